import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { decide } from "../../src/resolve/decide.ts";
import { normalizePath } from "../../src/resolve/path.ts";
import { accessRuleSchema, type CredentialKind, findRequirement } from "../../src/resolve/rules.ts";

test("paths are normalised once, the way a permissive backend reads them", () => {
  const cases: [string, string | undefined][] = [
    ["/", "/"],
    ["/a/b", "/a/b"],
    ["/a/b/", "/a/b/"],
    ["//admin", "/admin"],
    ["/public/../admin", "/admin"],
    ["/public/%2e%2e/admin", "/admin"],
    ["/public/%2E%2E%2Fadmin", "/admin"],
    ["/public%2F..%2F..%2Fadmin", "/admin"],
    ["/public\\..\\admin", "/admin"],
    ["/./admin/./x", "/admin/x"],
    ["/../../admin", "/admin"],
    ["/admin%2fsecret", "/admin/secret"],
    ["/caf%C3%A9", "/café"],
    ["/a%00b", undefined],
    ["/a%0d%0ab", undefined],
    ["/bad%zz", undefined],
    ["/bad%", undefined],
    ["relative", undefined],
  ];
  for (const [input, expected] of cases) assert.equal(normalizePath(input), expected, input);
});

const rules = z.array(accessRuleSchema).parse([
  { path: "/public/**", access: "public" },
  { path: ["/health", "/static/*.css"], access: "public" },
  { host: "admin.example.com", roles: ["admin"] },
  { path: "/api/**", methods: ["POST", "delete"], roles: ["writer", "admin"] },
  { path: "/verified/**", access: "authenticated", require_verified_email: true },
  { host: "*.internal.example.com", access: "deny" },
  { path: "/blocked", access: "deny" },
]);

test("the first matching rule wins; unmatched requests get the default", () => {
  const cases: [{ method?: string; host?: string; path: string }, string][] = [
    [{ path: "/public" }, "public"],
    [{ path: "/public/a/b" }, "public"],
    [{ path: "/publicity" }, "authenticated"],
    [{ path: "/health" }, "public"],
    [{ path: "/health/x" }, "authenticated"],
    [{ path: "/static/site.css" }, "public"],
    [{ path: "/static/sub/site.css" }, "authenticated"],
    [{ host: "admin.example.com", path: "/public/x" }, "public"],
    [{ host: "admin.example.com", path: "/x" }, "roles:admin"],
    [{ host: "admin.example.com:8080", path: "/x" }, "roles:admin"],
    [{ method: "POST", path: "/api/items" }, "roles:writer,admin"],
    [{ method: "DELETE", path: "/api/items/1" }, "roles:writer,admin"],
    [{ method: "GET", path: "/api/items" }, "authenticated"],
    [{ path: "/verified/page" }, "verified"],
    [{ host: "a.internal.example.com", path: "/" }, "deny"],
    [{ host: "internal.example.com", path: "/" }, "authenticated"],
    [{ path: "/blocked" }, "deny"],
  ];
  for (const [request, expected] of cases) {
    const requirement = findRequirement(
      rules,
      {
        method: request.method ?? "GET",
        host: request.host ?? "app.example.com",
        path: request.path,
      },
      "authenticated",
    );
    const summary =
      requirement.access !== "authenticated"
        ? requirement.access
        : requirement.roles.length > 0
          ? `roles:${requirement.roles.join(",")}`
          : requirement.requireVerifiedEmail
            ? "verified"
            : "authenticated";
    assert.equal(summary, expected, JSON.stringify(request));
  }
});

test("invalid rules are refused with a reason", () => {
  const bad = [
    {},
    { access: "maybe" },
    { path: "no-slash", access: "public" },
    { access: "public", roles: ["x"] },
    { roles: [] },
    { methods: ["FETCH"], access: "deny" },
    { access: "public", extra: 1 },
    { access: "public", credentials: ["session"] },
    { access: "authenticated", credentials: [] },
    { access: "authenticated", credentials: ["cookie"] },
  ];
  for (const rule of bad)
    assert.equal(accessRuleSchema.safeParse(rule).success, false, JSON.stringify(rule));
});

const user = {
  userId: "u1",
  email: "a@example.com",
  emailVerified: false,
  name: "",
  roles: ["reader"],
  method: "password",
  authenticatedAt: new Date(),
};

test("decisions: no identity never yields allow, and requirements are all checked", () => {
  const auth = (
    roles: string[] = [],
    requireVerifiedEmail = false,
    credentials: CredentialKind[] | null = null,
  ) =>
    ({
      access: "authenticated",
      roles,
      requireVerifiedEmail,
      credentials: credentials && new Set(credentials),
    }) as const;
  assert.equal(decide(auth(), null).outcome, "unauthenticated");
  assert.equal(decide(auth(), user).outcome, "allow");
  assert.equal(decide(auth(["admin"]), user).outcome, "forbidden");
  assert.equal(decide(auth(["admin", "reader"]), user).outcome, "allow");
  assert.equal(decide(auth([], true), user).outcome, "forbidden");
  assert.equal(decide(auth([], true), { ...user, emailVerified: true }).outcome, "allow");
  assert.equal(decide({ access: "public" }, null).outcome, "anonymous");
  assert.equal(decide({ access: "public" }, user).outcome, "allow");
  assert.equal(decide({ access: "deny" }, user).outcome, "forbidden");
  assert.equal(decide({ access: "deny" }, null).outcome, "forbidden");
  const sessionsOnly = auth([], false, ["session"]);
  assert.equal(decide(sessionsOnly, user).outcome, "allow");
  const byKey = decide(sessionsOnly, { ...user, method: "api-key" });
  assert.equal(byKey.outcome, "forbidden");
  assert.match(
    byKey.outcome === "forbidden" ? byKey.reason : "",
    /an API key is not accepted here/,
  );
  assert.equal(decide(sessionsOnly, { ...user, method: "jwt" }).outcome, "forbidden");
  assert.equal(decide(sessionsOnly, { ...user, method: "oauth:github" }).outcome, "allow");
  assert.equal(decide(auth([], false, ["api-key", "jwt"]), user).outcome, "forbidden");
  assert.equal(decide(sessionsOnly, null).outcome, "unauthenticated");
});
