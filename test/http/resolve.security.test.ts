// What a hostile client tried against /_resolve, answered over HTTP on both
// databases: paths that mean one thing to the rules and another to the
// application, rules narrower than the backends behind them, host lists, and
// identities whose values are not ASCII.
import assert from "node:assert/strict";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { rulesFile } from "../helpers/config-file.ts";
import {
  askResolve,
  bodyOf,
  login,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

const RULES = rulesFile(
  "  - path: /public/**",
  "    access: public",
  "  - path: /admin/**",
  "    roles: [admin]",
  "  - path: /reports/**",
  "    methods: [GET]",
  "    roles: [auditor]",
  "  - path: /files/**",
  "    access: public",
  "    allow_encoded_slashes: true",
);

describeOnEachBackend("resolve security", { GATEHOUSE_CONFIG: RULES }, (stack) => {
  test("a path the application could read as another path is refused, never judged", async () => {
    const ambiguous = [
      "/admin/%2e%2e/public/x",
      "/admin/../public/x",
      "/admin/..%2fpublic/x",
      "/admin/..\\public/x",
      "/admin/.%2e/public/x",
      "/admin/%2E%2E/public/x",
      "//admin/x",
      "/public//../admin",
      "/public/..;/admin",
      "/public/%252e%252e/admin",
      "/public/x%2f..%2f..%2fadmin",
    ];
    for (const uri of ambiguous) {
      const response = await askResolve(stack.server.url, uri);
      assert.equal(response.status, 403, uri);
      assert.equal(response.headers.get("location"), null, uri);
      const body = await bodyOf(response);
      assert.equal(body.error.code, "invalid_request", uri);
      assert.match(body.error.message, /original path/, uri);
    }
    // The opt-out: a rule may accept encoded slashes (an object-storage style API).
    const encoded = await askResolve(stack.server.url, "/files/a%2Fb.txt");
    assert.equal(encoded.status, 200);
    assert.equal(encoded.headers.get("x-auth-anonymous"), "true");
    // ...but never an encoded slash elsewhere.
    const elsewhere = await askResolve(stack.server.url, "/public/a%2Fb");
    assert.equal(elsewhere.status, 403);
    assert.match((await bodyOf(elsewhere)).error.message, /encoded/);
  });

  test("rules are as wide as the backends: case, ; parameters, and HEAD for GET", async () => {
    const cookie = await register(stack.server.url, uniqueEmail());
    for (const uri of ["/admin/x", "/ADMIN/x", "/Admin/x", "/admin;x=1/y", "/admin%3bx/y"]) {
      const response = await askResolve(stack.server.url, uri, { cookie });
      assert.equal(response.status, 403, uri);
      assert.equal((await bodyOf(response)).error.code, "forbidden", uri);
    }
    for (const method of ["GET", "HEAD", "head"]) {
      const response = await askResolve(stack.server.url, "/reports/x", {
        cookie,
        "x-original-method": method,
      });
      assert.equal(response.status, 403, method);
    }
    const post = await askResolve(stack.server.url, "/reports/x", {
      cookie,
      "x-original-method": "POST",
    });
    assert.equal(post.status, 200, "the GET rule does not cover POST");
  });

  test("a list in X-Forwarded-Host is refused: the rules would judge one host, the application read another", async () => {
    const response = await askResolve(stack.server.url, "/public/x", {
      "x-forwarded-host": "app.example.test, admin.example.test",
    });
    assert.equal(response.status, 403);
    assert.equal((await bodyOf(response)).error.code, "invalid_request");
  });

  test("identities that are not ASCII reach the application percent-encoded, each distinct", async () => {
    const tag = Math.random().toString(36).slice(2, 8);
    const addresses = [
      `тест.${tag}@example.test`,
      `josé.${tag}@example.test`,
      `josë.${tag}@example.test`,
      `用户.${tag}@example.test`,
      `zero\u200bwidth.${tag}@example.test`,
      `emoji😀.${tag}@example.test`,
      `jos%C3%A9.${tag}@example.test`,
    ];
    const seen = new Set<string>();
    for (const email of addresses) {
      const cookie = await register(stack.server.url, email);
      await stack.database.db
        .update(users)
        .set({ name: "Zoë 😀 %41", roles: ["ünïcode", "a,b", "plain"] })
        .where(eq(users.email, email.normalize("NFKC").toLowerCase()));
      const fresh = sessionCookie(await login(stack.server.url, email));
      for (const session of [cookie, fresh]) {
        const response = await askResolve(stack.server.url, "/x", { cookie: session });
        assert.equal(response.status, 200, email);
      }
      const response = await askResolve(stack.server.url, "/x", { cookie: fresh });
      const header = response.headers.get("x-auth-email") ?? "";
      assert.match(header, /^[\x21-\x7e]+$/, `${email} is sent as ASCII`);
      assert.equal(decodeURIComponent(header), email.normalize("NFKC").toLowerCase());
      assert.ok(!seen.has(header), `${email} arrives distinct from every other address`);
      seen.add(header);
      assert.equal(decodeURIComponent(response.headers.get("x-auth-name") ?? ""), "Zoë 😀 %41");
      assert.deepEqual(
        (response.headers.get("x-auth-roles") ?? "").split(",").map(decodeURIComponent),
        ["ünïcode", "a,b", "plain"],
      );
    }
  });
});
