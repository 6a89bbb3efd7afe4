// Bearer JWTs from trusted issuers, against issuers served on loopback: the
// happy path, a table of hostile tokens (each a 401, never a 500), key
// rotation at the issuer with a bounded refetch, the verified-token cache,
// and an unreachable issuer (503, never 200).
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import {
  askResolve,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { rawRequest } from "../helpers/http.ts";
import { newKey, startTokenIssuer } from "../helpers/token-issuer.ts";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("bearer JWTs from trusted issuers", () => {
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;
  let main: Awaited<ReturnType<typeof startTokenIssuer>>;
  let strict: Awaited<ReturnType<typeof startTokenIssuer>>;
  /** Configured, but stopped before gatehouse ever reaches it. */
  let unreachable: Awaited<ReturnType<typeof startTokenIssuer>>;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const ask = (token: string, headers: Record<string, string> = {}) =>
    askResolve(gatehouse.url, "/api/items", { ...bearer(token), ...headers });

  before(async () => {
    main = await startTokenIssuer();
    strict = await startTokenIssuer();
    unreachable = await startTokenIssuer();
    await unreachable.stop();
    database = await openDatabase({ kind: "pglite" });
    // Through the environment, as YAML text: the first found by discovery, the second by its JWKS URL.
    gatehouse = await startGatehouse(database, {
      TRUSTED_ISSUERS: `
- issuer: ${main.issuer}
  audiences: [api.example.test]
  algorithms: [RS256, ES256]
  clock_tolerance: 2s
  jwks_cooldown: 1s
  claims: { roles: groups }
  headers: { tenant: tid }
- issuer: ${strict.issuer}
  jwks_url: ${strict.issuer}/jwks.json
  audiences: api.example.test
  algorithms: [ES256]
  typ: at+jwt
- issuer: ${unreachable.issuer}
  audiences: [api.example.test]
`,
    });
  });

  after(async () => {
    await gatehouse?.stop();
    await database?.close();
    await main?.stop();
    await strict?.stop();
  });

  const good = { sub: "service-7", aud: "api.example.test", email: "svc@example.test" };

  test("a valid token resolves to its subject, with mapped claims", async () => {
    const token = await main.sign({
      ...good,
      groups: ["deployers", "readers"],
      tid: "acme",
      email_verified: true,
    });
    const response = await ask(token);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-auth-user-id"), "service-7");
    assert.equal(response.headers.get("x-auth-method"), "jwt");
    assert.equal(response.headers.get("x-auth-email"), "svc@example.test");
    assert.equal(response.headers.get("x-auth-email-verified"), "true");
    assert.equal(response.headers.get("x-auth-roles"), "deployers,readers");
    assert.equal(response.headers.get("x-auth-tenant"), "acme");
    assert.ok(response.headers.get("x-auth-jwt"), "gatehouse's own assertion too");
    const es = await main.sign(good, { key: main.keys()[1] });
    assert.equal((await ask(es)).status, 200, "the ES256 key of the same issuer");
    const typed = await strict.sign(good, { key: strict.keys()[1], header: { typ: "at+jwt" } });
    assert.equal((await ask(typed)).status, 200, "typ where configured");
  });

  test("claims that are not ASCII reach the application percent-encoded, never a 500", async () => {
    const token = await main.sign({
      ...good,
      sub: "сервис-7 😀",
      email: "josé@example.test",
      name: "Zoë",
      groups: ["ünï", "a,b"],
      tid: "äcme\u200b",
    });
    const response = await ask(token);
    assert.equal(response.status, 200);
    for (const name of ["x-auth-user-id", "x-auth-email", "x-auth-roles", "x-auth-tenant"])
      assert.match(response.headers.get(name) ?? "", /^[\x21-\x7e]+$/, `${name} is ASCII`);
    assert.equal(decodeURIComponent(response.headers.get("x-auth-user-id") ?? ""), "сервис-7 😀");
    assert.equal(
      decodeURIComponent(response.headers.get("x-auth-email") ?? ""),
      "josé@example.test",
    );
    assert.equal(decodeURIComponent(response.headers.get("x-auth-tenant") ?? ""), "äcme\u200b");
  });

  test("hostile tokens are each a 401, never a 500", async () => {
    const now = Math.floor(Date.now() / 1000);
    const rsa = main.keys()[0];
    assert.ok(rsa);
    const attacker = await newKey("RS256", rsa.kid);
    const eddsa = main.keys()[2]; // published from the start, but not on the allow-list
    const pem = createPublicKey({ key: rsa.publicJwk as never, format: "jwk" }).export({
      type: "spki",
      format: "pem",
    }) as string;
    const payload = { iss: main.issuer, iat: now, exp: now + 300, ...good };
    const [validHeader, , validSignature] = (await main.sign(good)).split(".");
    const hostile: Record<string, string> = {
      "alg none, empty signature": `${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.`,
      "alg none, any signature": `${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.AAAA`,
      "HS256 keyed with the issuer's public key": await new SignJWT(payload)
        .setProtectedHeader({ alg: "HS256", kid: rsa.kid })
        .sign(new TextEncoder().encode(pem)),
      "signed by another key under the issuer's kid": await main.sign(good, { key: attacker }),
      "an embedded jwk header": await main.sign(good, {
        key: attacker,
        header: { jwk: attacker.publicJwk, kid: "attacker" },
      }),
      "a jku header": await main.sign(good, {
        key: attacker,
        header: { jku: `${main.issuer}/elsewhere.json`, kid: "attacker-2" },
      }),
      "an x5u header": await main.sign(good, {
        key: attacker,
        header: { x5u: "http://127.0.0.1:1/x" },
      }),
      "an algorithm the issuer is not allowed": await main.sign(good, { key: eddsa }),
      expired: await main.sign({ ...good, exp: now - 60 }),
      "not yet valid": await main.sign({ ...good, nbf: now + 60 }),
      "no exp": await main.sign(good, { noExp: true }),
      "no subject": await main.sign({ aud: good.aud }),
      "an issuer nobody configured": await main.sign({ ...good, iss: "https://evil.example" }),
      "a configured issuer's claim, another issuer's key": await strict.sign(
        { ...good, iss: main.issuer },
        { key: strict.keys()[1] },
      ),
      "wrong audience": await main.sign({ ...good, aud: "other.example.test" }),
      "no audience": await main.sign({ sub: "x" }),
      "typ missing where required": await strict.sign(good, { key: strict.keys()[1] }),
      "unknown kid": await main.sign(good, { key: await newKey("RS256") }),
      "kid path traversal": await main.sign(good, {
        key: attacker,
        header: { kid: "../../../../etc/passwd" },
      }),
      "kid injection": await main.sign(good, { key: attacker, header: { kid: "' OR '1'='1" } }),
      "bad base64": "eyJhbGciOiJSUzI1NiJ9.@@@@.AAAA",
      "base64 of nothing": "aaaa.bbbb.cccc",
      "JSON that is not an object": `${b64("x")}.${b64([1])}.AAAA`,
      "a tampered payload": `${validHeader}.${b64({ ...payload, sub: "admin" })}.${validSignature}`,
    };
    const cookie = await register(gatehouse.url, uniqueEmail());
    for (const [name, token] of Object.entries(hostile)) {
      const response = await ask(token, { cookie });
      assert.equal(response.status, 401, name);
      assert.equal(response.headers.get("x-auth-user-id"), null, name);
    }
    // Signed first (RSA keys are slow to make), so the requests fall within one 1 s cooldown.
    const unknownKids = await Promise.all(
      Array.from({ length: 5 }, async () => main.sign(good, { key: await newKey("RS256") })),
    );
    const fetches = main.jwksFetches();
    for (const token of unknownKids) assert.equal((await ask(token)).status, 401);
    assert.ok(main.jwksFetches() - fetches <= 1, "unknown kids refetch at most once per cooldown");
  });

  test("oversized tokens are refused quickly with a 4xx", async () => {
    const big = await rawRequest(`${gatehouse.url}/_resolve`, {
      "x-original-uri": "/x",
      "x-original-method": "GET",
      "x-forwarded-host": "app.example.test",
      authorization: `Bearer ${"a".repeat(9000)}.b.c`,
    });
    assert.equal(big.status, 401);
    // Hundreds of KB: Node's header limit answers before any parsing.
    const huge = await rawRequest(`${gatehouse.url}/_resolve`, {
      "x-original-uri": "/x",
      "x-original-method": "GET",
      "x-forwarded-host": "app.example.test",
      authorization: `Bearer ${"a".repeat(300_000)}.b.c`,
    }).catch(() => ({ status: 431 }));
    assert.ok(huge.status >= 400 && huge.status < 500, `status ${huge.status}`);
  });

  test("the issuer rotates its keys: the new kid is fetched once, the old one keeps working while published", async () => {
    await sleep(1_100); // past the refetch cooldown
    const old = main.keys()[0];
    assert.ok(old);
    const next = await newKey("RS256");
    main.publish([next, old]);
    const before = main.jwksFetches();
    assert.equal((await ask(await main.sign(good, { key: next }))).status, 200);
    assert.equal(main.jwksFetches(), before + 1);
    assert.equal((await ask(await main.sign(good, { key: old }))).status, 200);
    assert.equal(main.jwksFetches(), before + 1, "known kids need no fetch");
  });

  test("verified tokens are cached until they expire", async () => {
    const verifications = async () => {
      const text = await (await fetch(`${gatehouse.url}/metrics`)).text();
      return Number(/gatehouse_bearer_jwt_total\{result="verified"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const token = await main.sign({ ...good, exp: Math.floor(Date.now() / 1000) + 1 });
    const before = await verifications();
    for (let i = 0; i < 5; i++) assert.equal((await ask(token)).status, 200);
    assert.equal(await verifications(), before + 1, "verified once, then served from the cache");
    // Past exp and the 2 s tolerance, the cached answer ends too.
    await sleep((Math.floor(Date.now() / 1000) + 1 + 2 + 1) * 1000 - Date.now());
    assert.equal((await ask(token)).status, 401);
  });

  test("an issuer whose keys cannot be fetched gives 503, never 200 or 401", async () => {
    const token = await unreachable.sign(good);
    const response = await ask(token);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal(response.headers.get("x-auth-user-id"), null);
  });
});
