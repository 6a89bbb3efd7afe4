// The /_resolve policy as a table: one row per answer the README documents,
// on the pure decision function, with no server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import {
  type CredentialResult,
  decide,
  decideUpstream,
  type Identity,
  type Outcome,
} from "../../src/resolve/decide.ts";
import type { OriginalRequest } from "../../src/resolve/original-request.ts";
import { accessRuleSchema, findRequirement } from "../../src/resolve/rules.ts";

const rules = z.array(accessRuleSchema).parse([
  { path: "/public/**", access: "public" },
  { path: "/files/admin/**", roles: ["admin"] },
  { path: "/files/**", access: "public", allow_encoded_slashes: true },
  { path: "/admin/**", roles: ["admin"] },
  { path: "/billing/**", access: "authenticated", require_verified_email: true },
  { path: "/settings/**", credentials: ["session"] },
  { path: "/machines/**", credentials: ["api-key", "jwt"] },
  { path: "/next/**", credentials: ["authjs"] },
  { path: "/repos/**", upstream_token: { provider: "github" } },
  { path: "/blocked/**", access: "deny" },
]);

const user: Identity = {
  userId: "u1",
  email: "a@example.com",
  emailVerified: false,
  name: "",
  roles: ["reader"],
  method: "password",
  authenticatedAt: new Date(0),
};
const as = (changes: Partial<Identity>): CredentialResult => ({
  kind: "identity",
  identity: { ...user, ...changes },
});
const SESSION = as({});
const NONE: CredentialResult = { kind: "none" };
const EXPIRED: CredentialResult = { kind: "none", expired: true };
const INVALID: CredentialResult = { kind: "invalid", message: "the bearer token is not valid" };
const DOWN: CredentialResult = { kind: "unavailable" };

const request = (path: string, encodedSlashes = false): OriginalRequest => ({
  method: "GET",
  host: "app.example.com",
  path,
  encodedSlashes,
  otherReadings: encodedSlashes
    ? [
        {
          method: "GET",
          path: path.replace(/%2F/g, "/"),
          why: "path with its encoded slashes decoded",
        },
      ]
    : [],
  url: `https://app.example.com${path}`,
});

type Row = [
  what: string,
  request: OriginalRequest | { error: string },
  credential: CredentialResult,
  expected: Outcome["kind"],
  reason?: RegExp,
];

const rows: Row[] = [
  // 200 with identity
  ["a session on the default rule", request("/x"), SESSION, "allow"],
  ["a session with the role", request("/admin/x"), as({ roles: ["admin"] }), "allow"],
  ["any of several roles", request("/admin/x"), as({ roles: ["reader", "admin"] }), "allow"],
  ["a verified address", request("/billing/x"), as({ emailVerified: true }), "allow"],
  [
    "a provider sign-in is a session",
    request("/settings/x"),
    as({ method: "oauth:github" }),
    "allow",
  ],
  [
    "an API key where machines are accepted",
    request("/machines/x"),
    as({ method: "api-key" }),
    "allow",
  ],
  ["identity on a public rule", request("/public/x"), SESSION, "allow"],
  ["an encoded slash where the rule allows it", request("/files/a%2Fb", true), SESSION, "allow"],
  // 200 anonymous
  ["nobody on a public rule", request("/public/x"), NONE, "anonymous"],
  ["a store that cannot answer, on a public rule", request("/public/x"), DOWN, "anonymous"],
  // 401 unauthenticated (with the login location)
  ["nobody on the default rule", request("/x"), NONE, "unauthenticated"],
  ["nobody on a roles rule", request("/admin/x"), NONE, "unauthenticated"],
  ["nobody on a sessions-only rule", request("/settings/x"), NONE, "unauthenticated"],
  ["an expired session on the default rule", request("/x"), EXPIRED, "unauthenticated"],
  ["an expired session on a roles rule", request("/admin/x"), EXPIRED, "unauthenticated"],
  // an expired session on a public rule is anonymous, like nobody
  ["an expired session on a public rule", request("/public/x"), EXPIRED, "anonymous"],
  // 401 invalid_token: never a fall-back to the cookie or to anonymous
  ["an invalid bearer token", request("/x"), INVALID, "invalid_credential", /not valid/],
  ["an invalid bearer token on a public rule", request("/public/x"), INVALID, "invalid_credential"],
  // 403 forbidden
  ["a missing role", request("/admin/x"), SESSION, "forbidden", /roles is required: admin/],
  ["an unverified address", request("/billing/x"), SESSION, "forbidden", /verified email/],
  [
    "an API key on a sessions-only rule",
    request("/settings/x"),
    as({ method: "api-key" }),
    "forbidden",
    /an API key is not accepted here; use a browser session/,
  ],
  [
    "an Auth.js session where Auth.js sessions are accepted",
    request("/next/x"),
    as({ method: "authjs" }),
    "allow",
  ],
  ["an Auth.js session on the default rule", request("/x"), as({ method: "authjs" }), "allow"],
  ["an Auth.js session on a public rule", request("/public/x"), as({ method: "authjs" }), "allow"],
  [
    "the development bypass counts as a browser session",
    request("/settings/x"),
    as({ method: "dev-bypass" }),
    "allow",
  ],
  [
    "an invalid Auth.js cookie",
    request("/x"),
    { kind: "invalid", message: "the Auth.js session has expired" },
    "invalid_credential",
    /Auth\.js session has expired/,
  ],
  [
    "an invalid Auth.js cookie on a public rule",
    request("/public/x"),
    { kind: "invalid", message: "the Auth.js session is not valid" },
    "invalid_credential",
  ],
  [
    "an Auth.js session on a sessions-only rule",
    request("/settings/x"),
    as({ method: "authjs" }),
    "forbidden",
    /an Auth\.js session is not accepted here; use a browser session/,
  ],
  [
    "a gatehouse session where only Auth.js sessions are accepted",
    request("/next/x"),
    SESSION,
    "forbidden",
    /a browser session is not accepted here; use an Auth\.js session/,
  ],
  [
    "an API key where only Auth.js sessions are accepted",
    request("/next/x"),
    as({ method: "api-key" }),
    "forbidden",
    /use an Auth\.js session/,
  ],
  [
    "an Auth.js session where a provider token is passed upstream",
    request("/repos/x"),
    as({ method: "authjs" }),
    "forbidden",
    /Auth\.js session carries no provider token/,
  ],
  [
    "a JWT on a sessions-only rule",
    request("/settings/x"),
    as({ method: "jwt" }),
    "forbidden",
    /a bearer token is not accepted/,
  ],
  [
    "a session on a machines-only rule",
    request("/machines/x"),
    SESSION,
    "forbidden",
    /use an API key or a bearer token/,
  ],
  ["a deny rule, signed in", request("/blocked/x"), SESSION, "forbidden", /denied/],
  ["a deny rule, nobody", request("/blocked/x"), NONE, "forbidden", /denied/],
  ["a deny rule, even with a store down", request("/blocked/x"), DOWN, "forbidden"],
  [
    "a JWT where a provider token is passed upstream",
    request("/repos/x"),
    as({ method: "jwt" }),
    "forbidden",
    /carries no provider token/,
  ],
  // 403 invalid_request
  [
    "an unreadable forwarded request",
    { error: "the original path contains a dot segment (. or ..)" },
    SESSION,
    "invalid_request",
    /dot segment/,
  ],
  [
    "an encoded slash elsewhere",
    request("/public/a%2Fb", true),
    NONE,
    "invalid_request",
    /encoded/,
  ],
  // 503
  ["a store that cannot answer", request("/x"), DOWN, "unavailable", /cannot check/],
  ["a store that cannot answer, on a roles rule", request("/admin/x"), DOWN, "unavailable"],
];

test("every documented answer of /_resolve, from the pure decision", () => {
  for (const [what, original, credential, expected, reason] of rows) {
    const requirement =
      "error" in original
        ? findRequirement([], request("/"), "deny")
        : findRequirement(rules, original, "authenticated");
    const otherRequirements =
      "error" in original
        ? undefined
        : original.otherReadings.map((reading) =>
            findRequirement(rules, { ...original, ...reading }, "authenticated"),
          );
    const outcome = decide({ request: original, requirement, credential, otherRequirements });
    assert.equal(outcome.kind, expected, what);
    if (reason) assert.match("reason" in outcome ? outcome.reason : "", reason, what);
    if (outcome.kind === "allow" && credential.kind === "identity")
      assert.equal(outcome.identity, credential.identity, `${what}: the credential's own identity`);
  }
});

test("a rule that passes the provider's token upstream: the second step", () => {
  const requirement = findRequirement(rules, request("/repos/x"), "authenticated");
  const allowed = decide({ request: request("/repos/x"), requirement, credential: SESSION });
  assert.equal(allowed.kind, "allow");
  if (allowed.kind !== "allow") return;
  assert.deepEqual(allowed.upstreamToken, { provider: "github", header: "authorization" });
  assert.equal(decideUpstream(allowed, { kind: "token", value: "t" }), allowed);
  assert.equal(
    decideUpstream(allowed, { kind: "not_linked", message: "link GitHub first" }).kind,
    "forbidden",
  );
  // The provider refused to refresh while the session lives: sign in with it again, not a sign-out.
  assert.deepEqual(decideUpstream(allowed, { kind: "expired", message: "sign in with GitHub" }), {
    kind: "provider_reauth",
    provider: "github",
    reason: "sign in with GitHub",
  });
  assert.equal(
    decideUpstream(allowed, { kind: "unavailable", message: "GitHub is down" }).kind,
    "unavailable",
  );
  // No rule asks for it: no token is fetched.
  const plain = decide({
    request: request("/x"),
    requirement: findRequirement(rules, request("/x"), "authenticated"),
    credential: SESSION,
  });
  assert.equal(plain.kind === "allow" && plain.upstreamToken, null);
});

test("no credential that is not an identity ever yields allow, whatever the rule", () => {
  const paths = [
    "/x",
    "/public/x",
    "/files/x",
    "/admin/x",
    "/billing/x",
    "/settings/x",
    "/machines/x",
    "/repos/x",
    "/blocked/x",
  ];
  for (const path of paths)
    for (const credential of [NONE, INVALID, DOWN]) {
      const outcome = decide({
        request: request(path),
        requirement: findRequirement(rules, request(path), "authenticated"),
        credential,
      });
      assert.notEqual(outcome.kind, "allow", `${path} ${credential.kind}`);
    }
});

test("XSRF: a cookie-authenticated unsafe request needs this session's token in header and cookie", () => {
  const xsrfRules = z.array(accessRuleSchema).parse([
    { path: "/hooks/**", access: "authenticated", xsrf: false },
    { path: "/strict/**", access: "authenticated", xsrf: true },
    { path: "/public/**", access: "public" },
  ]);
  const token = "t0k3n";
  const session: CredentialResult = { kind: "identity", identity: user, xsrfToken: token };
  const on = (header: string | undefined, cookies: string[], byDefault = true) => ({
    byDefault,
    header,
    cookies,
  });
  const ask = (
    path: string,
    method: string,
    credential: CredentialResult,
    xsrf: ReturnType<typeof on>,
  ) => {
    const original = { ...request(path), method };
    return decide({
      request: original,
      requirement: findRequirement(xsrfRules, original, "authenticated"),
      credential,
      xsrf,
    });
  };
  const cases: [string, Outcome["kind"], RegExp?][] = [];
  const check = (what: string, outcome: Outcome, kind: Outcome["kind"], reason?: RegExp) => {
    assert.equal(outcome.kind, kind, what);
    if (reason) assert.match("reason" in outcome ? outcome.reason : "", reason, what);
    cases.push([what, kind]);
  };
  check("POST with the session's token", ask("/x", "POST", session, on(token, [token])), "allow");
  const passed = ask("/x", "POST", session, on(token, [token]));
  assert.equal(passed.kind === "allow" && passed.xsrfChecked, true, "not kept by an auth cache");
  check(
    "a planted second cookie",
    ask("/x", "DELETE", session, on(token, ["evil", token])),
    "allow",
  );
  check("no header", ask("/x", "POST", session, on(undefined, [token])), "xsrf", /missing/);
  check(
    "header and cookie differ",
    ask("/x", "PUT", session, on(token, ["other"])),
    "xsrf",
    /does not match/,
  );
  check(
    "a sibling's planted pair, or another user's token",
    ask("/x", "PATCH", session, on("evil", ["evil"])),
    "xsrf",
    /does not belong to this session/,
  );
  check("GET is safe", ask("/x", "GET", session, on(undefined, [])), "allow");
  check("HEAD and OPTIONS are safe", ask("/x", "OPTIONS", session, on(undefined, [])), "allow");
  check("a rule that opts out", ask("/hooks/x", "POST", session, on(undefined, [])), "allow");
  check(
    "a rule that opts in while the default is off",
    ask("/strict/x", "POST", session, on(undefined, [], false)),
    "xsrf",
  );
  check("the default off", ask("/x", "POST", session, on(undefined, [], false)), "allow");
  check(
    "an API key is exempt",
    ask("/x", "POST", as({ method: "api-key" }), on(undefined, [])),
    "allow",
  );
  check(
    "a bearer JWT is exempt",
    ask("/x", "POST", as({ method: "jwt" }), on(undefined, [])),
    "allow",
  );
  check(
    "anonymous on a public rule",
    ask("/public/x", "POST", NONE, on(undefined, [])),
    "anonymous",
  );
  check("signed in on a public rule", ask("/public/x", "POST", session, on(undefined, [])), "xsrf");
  check(
    "nobody on a protected rule",
    ask("/x", "POST", NONE, on(undefined, [])),
    "unauthenticated",
  );
  assert.equal(cases.length, 15);
});

test("XSRF checks are for cookies: Auth.js sessions are asked too, the development bypass is not", () => {
  const original = { ...request("/x"), method: "POST" };
  const decideWith = (credential: CredentialResult, header?: string) =>
    decide({
      request: original,
      requirement: findRequirement(rules, original, "authenticated"),
      credential,
      xsrf: { byDefault: true, header, cookies: header ? [header] : [] },
    }).kind;
  assert.equal(decideWith(as({ method: "dev-bypass" })), "allow");
  assert.equal(decideWith(SESSION), "xsrf");
  const authjs: CredentialResult = {
    kind: "identity",
    identity: { ...user, method: "authjs" },
    xsrfToken: "mine",
  };
  assert.equal(decideWith(authjs), "xsrf");
  assert.equal(decideWith(authjs, "someone-else's"), "xsrf");
  assert.equal(decideWith(authjs, "mine"), "allow");
});

test("an expired session is told apart from none: session_expired, not unauthenticated", () => {
  const cases: [CredentialResult, string, Outcome][] = [
    [EXPIRED, "/x", { kind: "unauthenticated", expired: true }],
    [EXPIRED, "/admin/x", { kind: "unauthenticated", expired: true }],
    [EXPIRED, "/settings/x", { kind: "unauthenticated", expired: true }],
    [EXPIRED, "/repos/x", { kind: "unauthenticated", expired: true }],
    [NONE, "/x", { kind: "unauthenticated" }],
    [NONE, "/repos/x", { kind: "unauthenticated" }],
    [EXPIRED, "/public/x", { kind: "anonymous" }],
    [EXPIRED, "/blocked/x", { kind: "forbidden", reason: "access to this resource is denied" }],
  ];
  for (const [credential, path, expected] of cases)
    assert.deepEqual(
      decide({
        request: request(path),
        requirement: findRequirement(rules, request(path), "authenticated"),
        credential,
      }),
      expected,
      `${path} ${JSON.stringify(credential)}`,
    );
});
