import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { readPath } from "../../src/resolve/path.ts";
import { accessRuleSchema, findRequirement } from "../../src/resolve/rules.ts";

test("paths are read as the application will see them; anything ambiguous is refused", () => {
  const cases: [string, string | { error: RegExp }, boolean?][] = [
    ["/", "/"],
    ["/a/b", "/a/b"],
    ["/a/b/", "/a/b/"],
    ["/caf%C3%A9", "/café"],
    ["/a%20b/c", "/a b/c"],
    // `;` parameters are removed before matching (Tomcat, Jetty and Spring strip them).
    ["/admin;x=1/y", "/admin/y"],
    ["/admin%3bx/y", "/admin/y"],
    ["/admin/;jsessionid=1", "/admin/"],
    // Encoded separators are kept as part of the segment and flagged.
    ["/api/files/a%2fb", "/api/files/a%2Fb", true],
    ["/api/files/a%5Cb", "/api/files/a%5Cb", true],
    // Everything below could mean something else to the application: refused.
    ["//admin", { error: /empty segment/ }],
    ["/docs//x", { error: /empty segment/ }],
    ["/public/../admin", { error: /dot segment/ }],
    ["/admin/../public/x", { error: /dot segment/ }],
    ["/./admin", { error: /dot segment/ }],
    ["/admin/.", { error: /dot segment/ }],
    ["/admin/..", { error: /dot segment/ }],
    ["/admin/%2e%2e/public/x", { error: /encoded dot/ }],
    ["/admin/.%2e/public/x", { error: /encoded dot/ }],
    ["/admin/%2E./public/x", { error: /encoded dot/ }],
    ["/admin/..%2fpublic/x", { error: /dot segment/ }],
    ["/admin%2f..%2fpublic", { error: /dot segment/ }],
    ["/admin/..\\public/x", { error: /backslash/ }],
    ["/admin\\x", { error: /backslash/ }],
    ["/public/..;/admin", { error: /dot segment/ }],
    ["/public/;/admin", { error: /empty segment/ }],
    ["/public/%252e%252e/admin", { error: /double-encoded/ }],
    ["/public/%252fadmin", { error: /double-encoded/ }],
    ["/a%00b", { error: /control/ }],
    ["/a%0d%0ab", { error: /control/ }],
    ["/bad%zz", { error: /percent-encoding/ }],
    ["/bad%", { error: /percent-encoding/ }],
    ["relative", { error: /start with/ }],
    ["", { error: /start with/ }],
  ];
  for (const [input, expected, encodedSlashes = false] of cases) {
    const reading = readPath(input);
    if (typeof expected === "string")
      assert.deepEqual(reading, { path: expected, encodedSlashes }, input);
    else assert.match("error" in reading ? reading.error : "(read)", expected.error, input);
  }
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
    // Paths match case-insensitively: Express and IIS serve /API as /api.
    [{ method: "POST", path: "/API/items" }, "roles:writer,admin"],
    [{ path: "/Blocked" }, "deny"],
    [{ path: "/PUBLIC/x" }, "public"],
    // Hosts arrive lower-cased from readOriginalRequest; the rules compare them so.
    [{ host: "admin.example.com", path: "/X" }, "roles:admin"],
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

test("a rule naming GET covers HEAD; case-sensitive rules opt out", () => {
  const [getOnly, exact] = z.array(accessRuleSchema).parse([
    { path: "/reports/**", methods: ["GET"], roles: ["auditor"] },
    { path: "/CaseMatters", access: "deny", case_sensitive: true },
  ]);
  const request = (method: string, path: string) => ({ method, host: "a.example.com", path });
  const match = (rule: typeof getOnly, method: string, path: string) =>
    findRequirement([rule as NonNullable<typeof rule>], request(method, path), "public").access;
  assert.equal(match(getOnly, "GET", "/reports/x"), "authenticated");
  assert.equal(match(getOnly, "HEAD", "/reports/x"), "authenticated");
  assert.equal(match(getOnly, "POST", "/reports/x"), "public");
  assert.equal(match(exact, "GET", "/CaseMatters"), "deny");
  assert.equal(match(exact, "GET", "/casematters"), "public");
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
