// Personal API keys end to end: created with a browser session, shown once,
// used as `Authorization: Bearer` on /_resolve, listed without the secret,
// revoked and expired; bad input answered with 4xx.
import assert from "node:assert/strict";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { generateApiKey, isWellFormedApiKey } from "../../src/api-keys/format.ts";
import { apiKeys } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import { rulesFile } from "../helpers/config-file.ts";
import { askResolve, bodyOf, markVerified, register, uniqueEmail } from "../helpers/gatehouse.ts";

const DAY = 86_400_000;

test("API keys have a scannable prefix and a checksum", () => {
  const key = generateApiKey();
  assert.match(key, /^gatehouse_[0-9A-Za-z]{49}$/);
  assert.ok(isWellFormedApiKey(key));
  assert.notEqual(generateApiKey(), key);
  // One changed character fails the checksum: no lookup is needed to refuse it.
  const last = key.at(-8) === "A" ? "B" : "A";
  assert.equal(isWellFormedApiKey(`${key.slice(0, -8)}${last}${key.slice(-7)}`), false);
  assert.equal(isWellFormedApiKey(`${key}x`), false);
  assert.equal(isWellFormedApiKey(key.replace("gatehouse_", "gatehouse-")), false);
});

const clock = manualClock();

describeOnEachBackend(
  "API keys",
  { GATEHOUSE_CONFIG: rulesFile("  - path: /browser-only/**", "    credentials: [session]") },
  (stack) => {
    const base = () => stack.server.url;
    const json = (cookie: string, body: unknown) => ({
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

    /** A signed-in user whose address is verified: keys need one. */
    async function verifiedUser(email = uniqueEmail()): Promise<string> {
      const cookie = await register(base(), email);
      await markVerified(stack.server, email);
      return cookie;
    }

    async function createKey(cookie: string, body: Record<string, unknown> = { name: "ci" }) {
      const response = await fetch(`${base()}/auth/api-keys`, json(cookie, body));
      assert.equal(response.status, 201, await response.clone().text());
      return bodyOf(response) as Promise<{ key: string; apiKey: { id: string; start: string } }>;
    }

    test("lifecycle: create, shown once, resolve, list, revoke", async () => {
      const email = uniqueEmail();
      const cookie = await verifiedUser(email);
      const { key, apiKey } = await createKey(cookie, { name: "deploy script" });
      assert.ok(isWellFormedApiKey(key));
      assert.equal(apiKey.start, key.slice(0, 14));

      const resolved = await askResolve(base(), "/api/items", { authorization: `Bearer ${key}` });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-method"), "api-key");
      assert.equal(resolved.headers.get("x-auth-email"), email);
      assert.ok(resolved.headers.get("x-auth-jwt"), "an assertion for key users too");

      const listed = await fetch(`${base()}/auth/api-keys`, { headers: { cookie } });
      const text = await listed.text();
      assert.ok(!text.includes(key), "the list never shows the key");
      const { apiKeys: list } = JSON.parse(text) as { apiKeys: { id: string; name: string }[] };
      assert.deepEqual(
        list.map((item) => [item.id, item.name]),
        [[apiKey.id, "deploy script"]],
      );
      const [row] = await stack.database.db.select().from(apiKeys).where(eq(apiKeys.id, apiKey.id));
      assert.ok(row && !JSON.stringify(row).includes(key.slice(14)), "only a hash is stored");

      const revoked = await fetch(`${base()}/auth/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { cookie },
      });
      assert.equal(revoked.status, 200);
      const after = await askResolve(base(), "/api/items", { authorization: `Bearer ${key}` });
      assert.equal(after.status, 401);
      assert.equal(after.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
      const again = await fetch(`${base()}/auth/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { cookie },
      });
      assert.equal(again.status, 404);
    });

    test("a key expires, and its last use is recorded without a write per request", async () => {
      const cookie = await verifiedUser();
      const { key, apiKey } = await createKey(cookie, { name: "short", expiresInDays: 2 });
      const lastUsed = async () =>
        (await stack.database.db.select().from(apiKeys).where(eq(apiKeys.id, apiKey.id)))[0]
          ?.lastUsedAt;
      const use = () => askResolve(base(), "/x", { authorization: `Bearer ${key}` });
      assert.equal(await lastUsed(), null);
      assert.equal((await use()).status, 200);
      let recorded: Date | null | undefined;
      for (let i = 0; i < 50 && !recorded; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        recorded = await lastUsed();
      }
      assert.equal(recorded?.getTime(), clock.now());
      clock.advance(60_000);
      for (let i = 0; i < 5; i++) assert.equal((await use()).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await lastUsed())?.getTime(), recorded?.getTime(), "no write within minutes");

      clock.advance(2 * DAY);
      assert.equal((await use()).status, 401, "expired");
    });

    test("a rule can refuse API keys where only browser sessions make sense", async () => {
      const cookie = await verifiedUser();
      const { key } = await createKey(cookie);
      const byKey = await askResolve(base(), "/browser-only/settings", {
        authorization: `Bearer ${key}`,
      });
      assert.equal(byKey.status, 403);
      assert.match(
        JSON.stringify(await bodyOf(byKey)),
        /an API key is not accepted here; use a browser session/,
      );
      assert.equal((await askResolve(base(), "/browser-only/settings", { cookie })).status, 200);
    });

    test("an invalid bearer token is refused even beside a valid cookie", async () => {
      const cookie = await register(base(), uniqueEmail());
      const tokens = [
        generateApiKey(), // well-formed, unknown
        "gatehouse_short",
        "Bearer",
        "x".repeat(8000),
      ];
      for (const token of tokens) {
        const response = await askResolve(base(), "/x", {
          cookie,
          authorization: `Bearer ${token}`,
        });
        assert.equal(response.status, 401, token.slice(0, 20));
      }
      for (const authorization of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc"]) {
        const response = await askResolve(base(), "/x", { cookie, authorization });
        assert.equal(response.status, 401, authorization);
      }
    });

    test("keys are managed with a browser session only, and bad input is a clear 4xx", async () => {
      const cookie = await verifiedUser();
      const { key } = await createKey(cookie);
      const byKey = await fetch(`${base()}/auth/api-keys`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(byKey.status, 401, "a key cannot list or mint keys");
      const cases: [unknown, number][] = [
        [{ name: "" }, 400],
        [{ name: "x".repeat(101) }, 400],
        [{ name: "tab\tname" }, 400],
        [{ name: "ok", expiresInDays: 0 }, 400],
        [{ name: "ok", expiresInDays: 1.5 }, 400],
        [{ name: "ok", expiresInDays: "soon" }, 400],
        [{ name: "ok", expiresInDays: 100_000 }, 400],
        [[], 400],
      ];
      for (const [body, status] of cases) {
        const response = await fetch(`${base()}/auth/api-keys`, json(cookie, body));
        assert.equal(response.status, status, JSON.stringify(body));
        assert.ok((await bodyOf(response)).error.message, "with a message");
      }
      const anonymous = await fetch(`${base()}/auth/api-keys`, json("", { name: "x" }));
      assert.equal(anonymous.status, 401);
      const crossSite = await fetch(`${base()}/auth/api-keys`, {
        ...json(cookie, { name: "x" }),
        headers: { cookie, "content-type": "application/json", origin: "https://evil.example" },
      });
      assert.equal(crossSite.status, 403);
      const notMine = await fetch(`${base()}/auth/api-keys/${crypto.randomUUID()}/revoke`, {
        method: "POST",
        headers: { cookie },
      });
      assert.equal(notMine.status, 404);
    });

    test("the account page creates a key, shows it once, and revokes it", async () => {
      const cookie = await verifiedUser();
      const form = (body: Record<string, string>) => ({
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: base() },
        body: new URLSearchParams(body),
        redirect: "manual" as const,
      });
      const created = await fetch(
        `${base()}/auth/api-keys`,
        form({ name: "laptop", expiresInDays: "30" }),
      );
      assert.equal(created.status, 200);
      assert.equal(created.headers.get("cache-control"), "no-store");
      const page = await created.text();
      const key = /<code id="new-api-key">([^<]+)<\/code>/.exec(page)?.[1] ?? "";
      assert.ok(isWellFormedApiKey(key), "the new key is on the page");
      const account = await (await fetch(`${base()}/auth/account`, { headers: { cookie } })).text();
      assert.ok(!account.includes(key), "and never again");
      assert.ok(account.includes(key.slice(0, 14)), "only its start");
      const id = /action="\/auth\/api-keys\/([0-9a-f-]+)\/revoke"/.exec(account)?.[1];
      const revoked = await fetch(`${base()}/auth/api-keys/${id}/revoke`, form({}));
      assert.equal(revoked.status, 303);
      assert.equal(
        (await askResolve(base(), "/x", { authorization: `Bearer ${key}` })).status,
        401,
      );
      const empty = await fetch(`${base()}/auth/api-keys`, form({ name: "" }));
      assert.equal(empty.status, 400);
      assert.match(await empty.text(), /role="alert"/);
    });
  },
  { clock },
);
