// mfa and max_auth_age in the /_resolve policy, as a table on the pure
// decision function: who is sent to prove a factor (and where), who is
// refused with a reason, and what comes first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { type CredentialResult, decide, type Identity } from "../../src/resolve/decide.ts";
import type { OriginalRequest } from "../../src/resolve/original-request.ts";
import { accessRuleSchema, findRequirement } from "../../src/resolve/rules.ts";

const MINUTE = 60_000;
const NOW = 1_800_000_000_000;

const rules = z.array(accessRuleSchema).parse([
  { path: "/public/**", access: "public" },
  { path: "/admin/**", mfa: true },
  { path: "/fresh/**", max_auth_age: "15m" },
  { path: "/both/**", mfa: true, max_auth_age: 900 },
  { path: "/keys/**", mfa: true, credentials: ["session", "api-key"] },
  { path: "/staff/**", mfa: true, roles: ["staff"] },
  { path: "/verified/**", mfa: true, require_verified_email: true },
]);

const base: Identity = {
  userId: "u1",
  email: "a@example.com",
  emailVerified: false,
  name: "",
  roles: [],
  method: "password",
  authenticatedAt: new Date(NOW - 60 * MINUTE),
};
type Auth = NonNullable<Identity["auth"]>;
const session = (auth: Partial<Auth>, changes: Partial<Identity> = {}): CredentialResult => ({
  kind: "identity",
  identity: {
    ...base,
    ...changes,
    auth: {
      amr: ["pwd"],
      lastProofAt: NOW - MINUTE,
      secondFactorAt: null,
      enrolled: false,
      ...auth,
    },
  },
});
const PLAIN = session({});
const ENROLLED = session({ enrolled: true });
const PROVEN = session({
  enrolled: true,
  amr: ["pwd", "otp", "mfa"],
  secondFactorAt: NOW - MINUTE,
});
const PROVEN_LONG_AGO = session({
  enrolled: true,
  amr: ["pwd", "otp", "mfa"],
  secondFactorAt: NOW - 20 * MINUTE,
  lastProofAt: NOW - 20 * MINUTE,
});
const PASSKEY = session({ amr: ["hwk", "mfa"], secondFactorAt: NOW - MINUTE });
const STALE = session({ lastProofAt: NOW - 20 * MINUTE });
const API_KEY: CredentialResult = { kind: "identity", identity: { ...base, method: "api-key" } };
const JWT: CredentialResult = { kind: "identity", identity: { ...base, method: "jwt" } };
const BYPASS: CredentialResult = {
  kind: "identity",
  identity: { ...base, method: "dev-bypass" },
};
const ADMIN = session({}, { roles: ["admin"] });

function outcome(path: string, credential: CredentialResult, mfaRequiredRoles: string[] = []) {
  const request: OriginalRequest = {
    method: "GET",
    host: "app.example.com",
    path,
    encodedSlashes: false,
    otherReadings: [],
    url: `https://app.example.com${path}`,
  };
  const result = decide({
    request,
    requirement: findRequirement(rules, request, "authenticated"),
    credential,
    now: NOW,
    mfaRequiredRoles,
  });
  if (result.kind === "step_up") return `step_up:${result.code}`;
  return result.kind;
}

const table: [string, CredentialResult, string, string[]?][] = [
  ["/admin/x", PLAIN, "step_up:mfa_enrolment_required"],
  ["/admin/x", ENROLLED, "step_up:mfa_required"],
  ["/admin/x", PROVEN, "allow"],
  ["/admin/x", PASSKEY, "allow"],
  ["/admin/x", PROVEN_LONG_AGO, "allow"],
  ["/both/x", PROVEN, "allow"],
  ["/both/x", PROVEN_LONG_AGO, "step_up:reauthentication_required"],
  ["/both/x", ENROLLED, "step_up:mfa_required"],
  ["/both/x", PLAIN, "step_up:mfa_enrolment_required"],
  ["/fresh/x", PLAIN, "allow"],
  ["/fresh/x", STALE, "step_up:reauthentication_required"],
  ["/fresh/x", PROVEN_LONG_AGO, "step_up:reauthentication_required"],
  ["/admin/x", API_KEY, "forbidden"],
  ["/admin/x", JWT, "forbidden"],
  ["/fresh/x", API_KEY, "forbidden"],
  ["/keys/x", API_KEY, "allow"],
  ["/keys/x", JWT, "forbidden"],
  ["/keys/x", ENROLLED, "step_up:mfa_required"],
  // A 403 a second factor would not fix comes first.
  ["/staff/x", ENROLLED, "forbidden"],
  ["/staff/x", session({ enrolled: true }, { roles: ["staff"] }), "step_up:mfa_required"],
  ["/verified/x", ENROLLED, "forbidden"],
  ["/admin/x", BYPASS, "allow"],
  ["/public/x", PLAIN, "allow"],
  // MFA_REQUIRED_ROLES: enrol before anything protected; public stays open.
  ["/anything", ADMIN, "step_up:mfa_enrolment_required", ["admin"]],
  ["/public/x", ADMIN, "allow", ["admin"]],
  ["/anything", session({ enrolled: true }, { roles: ["admin"] }), "allow", ["admin"]],
  ["/anything", PLAIN, "allow", ["admin"]],
  [
    "/anything",
    { kind: "identity", identity: { ...base, roles: ["admin"], method: "api-key" } },
    "allow",
    ["admin"],
  ],
];

for (const [path, credential, expected, roles] of table) {
  const who =
    credential.kind === "identity"
      ? JSON.stringify(credential.identity.auth ?? credential.identity.method)
      : credential.kind;
  test(`${path} as ${who}${roles ? ` with MFA_REQUIRED_ROLES=${roles}` : ""}: ${expected}`, () => {
    assert.equal(outcome(path, credential, roles), expected);
  });
}

test("the refusal of an API key says why", () => {
  const request: OriginalRequest = {
    method: "GET",
    host: "app.example.com",
    path: "/admin/",
    encodedSlashes: false,
    otherReadings: [],
    url: "https://app.example.com/admin/",
  };
  const result = decide({
    request,
    requirement: findRequirement(rules, request, "authenticated"),
    credential: API_KEY,
    now: NOW,
  });
  assert.equal(result.kind, "forbidden");
  assert.match(
    result.kind === "forbidden" ? result.reason : "",
    /API key cannot prove a second factor/,
  );
});

test("rules refuse mfa and max_auth_age outside authenticated access, and bad durations", () => {
  for (const rule of [
    { path: "/x", access: "public", mfa: true },
    { path: "/x", access: "deny", max_auth_age: "15m" },
    { path: "/x", max_auth_age: "soon" },
    { path: "/x", max_auth_age: 0 },
  ])
    assert.equal(accessRuleSchema.safeParse(rule).success, false, JSON.stringify(rule));
});
