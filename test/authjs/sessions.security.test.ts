// Auth.js session cookies at /_resolve, on both databases: tokens minted by
// @auth/core itself (v5) and by next-auth 4.24.15 (fixtures), whole and
// chunked, with rotated secrets; a table of hostile cookies (each a 401
// invalid_token, never a 200, a 500 or a fall-through); the precedence with
// gatehouse's own session and bearer tokens; rules naming the credential;
// the kept-token cache and the bounds checked before any decryption.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { base64url, createLocalJWKSet, EncryptJWT, jwtVerify, UnsecuredJWT } from "jose";
import { MAX_TOKEN_LENGTH } from "../../src/credentials/authjs-cookie.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import {
  advancingClock,
  chunkV5,
  cookieHeader,
  mintV4,
  mintV5,
  V5_COOKIE,
  V5_OLD_SECRET,
  V5_SECRET,
  v4,
} from "./tokens.ts";

const ENV = {
  AUTHJS_SECRET: `${V5_SECRET},${V5_OLD_SECRET},${v4.secret},${v4.oldSecret}`,
  AUTHJS_ROLES_CLAIM: "role",
  // The next-auth 4 fixtures were issued once, long ago: the tests that need the bound use their own gatehouse.
  AUTHJS_MAX_AGE: "36500d",
  RULES: `
- { path: /public/**, access: public }
- { path: /next/**, credentials: [authjs] }
- { path: /settings/**, credentials: [session] }
- { path: /admin/**, roles: [admin] }
`,
};

const claims = {
  sub: "user-42",
  name: "Grace Hopper",
  email: " Grace@Example.COM ",
  picture: null,
  role: ["admin", "ops,team"],
};

/** A metric's value from /metrics (0 when absent). */
async function metric(server: RunningGatehouse, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

const b64json = (value: unknown) => base64url.encode(JSON.stringify(value));

/** The XSRF token of an Auth.js session, as the README's middleware computes it (Web Crypto, as on the edge). */
async function xsrfTokenOf(sessionToken: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(sessionToken),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("gatehouse xsrf v1"));
  return base64url.encode(new Uint8Array(mac));
}
const decodeText = (part: string) => new TextDecoder().decode(base64url.decode(part));

/** Replaces one of a compact JWE's five parts. */
function withPart(token: string, index: number, change: (part: string) => string): string {
  const parts = token.split(".");
  parts[index] = change(parts[index] ?? "");
  return parts.join(".");
}
const flipLast = (part: string) =>
  part.slice(0, -2) + (part.at(-2) === "A" ? "B" : "A") + part.slice(-1);

describeOnEachBackend("Auth.js sessions", ENV, (stack) => {
  const ask = (uri: string, cookie: string, headers: Record<string, string> = {}) =>
    askResolve(stack.server.url, uri, { cookie, ...headers });
  const v5Cookie = async (extra: Record<string, unknown> = {}, options = {}) =>
    `${V5_COOKIE}=${await mintV5({ ...claims, ...extra }, options)}`;

  async function assertInvalid(response: Response, message?: RegExp) {
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
    assert.equal(response.headers.get("x-auth-user-id"), null);
    const body = await bodyOf(response);
    assert.equal(body.error.code, "invalid_token");
    if (message) assert.match(body.error.message, message);
  }

  test("a v5 session from @auth/core's encode resolves, with a signed assertion", async () => {
    const response = await ask("/reports", await v5Cookie());
    assert.equal(response.status, 200);
    const h = response.headers;
    assert.equal(h.get("x-auth-user-id"), "user-42");
    assert.equal(h.get("x-auth-email"), "grace@example.com");
    assert.equal(h.get("x-auth-email-verified"), "false");
    assert.equal(h.get("x-auth-name"), "Grace Hopper");
    assert.equal(h.get("x-auth-roles"), "admin,ops%2Cteam");
    assert.equal(h.get("x-auth-method"), "authjs");
    assert.equal(h.get("x-auth-anonymous"), "false");
    const jwks = createLocalJWKSet(
      await (await fetch(`${stack.server.url}/.well-known/jwks.json`)).json(),
    );
    const { payload } = await jwtVerify(h.get("x-auth-jwt") ?? "", jwks, {
      audience: "app.example.test",
      issuer: new URL(stack.server.url).origin,
    });
    assert.equal(payload.sub, "user-42");
    assert.equal(payload.amr?.toString(), "authjs");
  });

  test("email_verified: true in the token is passed on; a role string is one role", async () => {
    const response = await ask("/admin/x", await v5Cookie({ email_verified: true, role: "admin" }));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-auth-email-verified"), "true");
    assert.equal(response.headers.get("x-auth-roles"), "admin");
    const readers = await ask("/admin/x", await v5Cookie({ role: "reader" }));
    assert.equal(readers.status, 403);
  });

  test("authenticated-at: auth_time when it is before the issue, else iat; absurd values never break an answer", async () => {
    const iatNow = Math.floor(Date.now() / 1000);
    const signedIn = await ask("/reports", await v5Cookie({ auth_time: iatNow - 3600 }));
    assert.equal(
      signedIn.headers.get("x-auth-authenticated-at"),
      new Date((iatNow - 3600) * 1000).toISOString(),
    );
    for (const auth_time of [1e20, -5, "yesterday", Number.MAX_VALUE]) {
      const response = await ask("/reports", await v5Cookie({ auth_time }));
      assert.equal(response.status, 200, String(auth_time));
      const at = Date.parse(response.headers.get("x-auth-authenticated-at") ?? "");
      assert.ok(Math.abs(at - Date.now()) < 60_000, String(auth_time));
    }
  });

  test("a v4 session minted by next-auth 4.24.15 resolves", async () => {
    const response = await ask("/reports", `next-auth.session-token=${v4.valid}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-auth-user-id"), "v4-user-1");
    assert.equal(response.headers.get("x-auth-email"), "ada@example.com");
    assert.equal(response.headers.get("x-auth-roles"), "admin");
    assert.equal(response.headers.get("x-auth-method"), "authjs");
    const secure = await ask("/reports", `__Secure-next-auth.session-token=${v4.valid}`);
    assert.equal(secure.status, 200, "v4 has no salt: both of its names read the same token");
  });

  test("the test's v4 minter makes what next-auth 4 makes", async () => {
    const [fixtureHeader] = v4.valid.split(".");
    const [ours] = (await mintV4({ sub: "x" })).split(".");
    assert.deepEqual(
      JSON.parse(decodeText(ours ?? "")),
      JSON.parse(decodeText(fixtureHeader ?? "")),
    );
    const response = await ask(
      "/reports",
      `next-auth.session-token=${await mintV4({ sub: "minted-v4" })}`,
    );
    assert.equal(response.headers.get("x-auth-user-id"), "minted-v4");
  });

  test("chunked cookies: v5 chunked by Auth.js's SessionStore, v4 by next-auth 4's", async () => {
    const big = await mintV5({ ...claims, sub: "chunky", id_token: "x".repeat(5000) });
    const chunks = await chunkV5(V5_COOKIE, big);
    assert.equal(chunks.length, 2);
    const v5 = await ask("/reports", `theme=dark; ${cookieHeader([...chunks].reverse())}`);
    assert.equal(v5.status, 200);
    assert.equal(v5.headers.get("x-auth-user-id"), "chunky");
    const fromV4 = await ask("/reports", cookieHeader(v4.chunked));
    assert.equal(fromV4.status, 200);
    assert.equal(fromV4.headers.get("x-auth-user-id"), "v4-user-2");
  });

  test("rotated secrets: tokens made with an older secret still resolve", async () => {
    const old = await ask("/reports", await v5Cookie({ sub: "old-v5" }, { secret: V5_OLD_SECRET }));
    assert.equal(old.status, 200);
    assert.equal(old.headers.get("x-auth-user-id"), "old-v5");
    const oldV4 = await ask("/reports", `next-auth.session-token=${v4.rotated}`);
    assert.equal(oldV4.status, 200);
    // A gatehouse that dropped the old secrets refuses them.
    const current = await startGatehouse(stack.database, {
      ...ENV,
      AUTHJS_SECRET: `${V5_SECRET},${v4.secret}`,
    });
    try {
      const cookie = await v5Cookie({}, { secret: V5_OLD_SECRET });
      await assertInvalid(await askResolve(current.url, "/reports", { cookie }));
      await assertInvalid(
        await askResolve(current.url, "/reports", {
          cookie: `next-auth.session-token=${v4.rotated}`,
        }),
      );
    } finally {
      await current.stop();
    }
  });

  const hostile: [what: string, cookie: () => Promise<string>, message?: RegExp][] = [
    ["expired (v5)", () => v5Cookie({}, { maxAge: -60 }), /expired/],
    ["expired (next-auth 4)", async () => `next-auth.session-token=${v4.expired}`, /expired/],
    [
      "another app's secret",
      () => v5Cookie({}, { secret: "some other app's secret, 32 chars long" }),
    ],
    [
      "the right secret, another cookie name as salt",
      () => v5Cookie({}, { salt: "other.session-token" }),
    ],
    [
      "moved to the __Secure- name (salted with the plain one)",
      async () => `__Secure-${V5_COOKIE}=${await mintV5(claims)}`,
    ],
    ["a v4 token in a v5 cookie", async () => `${V5_COOKIE}=${v4.valid}`],
    ["a v5 token in a v4 cookie", async () => `next-auth.session-token=${await mintV5(claims)}`],
    [
      "tampered ciphertext",
      async () => `${V5_COOKIE}=${withPart(await mintV5(claims), 3, flipLast)}`,
    ],
    ["tampered tag", async () => `${V5_COOKIE}=${withPart(await mintV5(claims), 4, flipLast)}`],
    ["tampered iv", async () => `${V5_COOKIE}=${withPart(await mintV5(claims), 2, flipLast)}`],
    [
      "header swapped to A256GCM (the AAD no longer matches)",
      async () => {
        const token = await mintV5(claims);
        const header = JSON.parse(decodeText(token.split(".")[0] ?? ""));
        return `${V5_COOKIE}=${withPart(token, 0, () => b64json({ ...header, enc: "A256GCM" }))}`;
      },
    ],
    [
      "alg none in a JWE header",
      async () =>
        `${V5_COOKIE}=${withPart(await mintV5(claims), 0, () => b64json({ alg: "none", enc: "A256CBC-HS512" }))}`,
    ],
    [
      "an unsecured JWT (alg none, three parts)",
      async () =>
        `${V5_COOKIE}=${new UnsecuredJWT({ sub: "admin" }).setExpirationTime("1h").encode()}`,
    ],
    [
      "a dir token with a weaker encryption (A128GCM) under a guessable key",
      async () =>
        `${V5_COOKIE}=${await new EncryptJWT({ sub: "admin" }).setProtectedHeader({ alg: "dir", enc: "A128GCM" }).encrypt(new Uint8Array(16))}`,
    ],
    [
      "key wrapping (A256KW) instead of dir",
      async () =>
        `${V5_COOKIE}=${await new EncryptJWT({ sub: "admin" }).setProtectedHeader({ alg: "A256KW", enc: "A256CBC-HS512" }).encrypt(new Uint8Array(32))}`,
    ],
    [
      "a password-based header asking for a billion iterations",
      async () =>
        `${V5_COOKIE}=${withPart(await mintV5(claims), 0, () => b64json({ alg: "PBES2-HS512+A256KW", enc: "A256CBC-HS512", p2c: 1e9, p2s: "AAAAAAAAAAAAAAAAAAAAAA" }))}`,
    ],
    [
      "a compressed payload header",
      async () =>
        `${V5_COOKIE}=${withPart(await mintV5(claims), 0, (h) => b64json({ ...JSON.parse(decodeText(h)), zip: "DEF" }))}`,
    ],
    ["no subject", () => v5Cookie({ sub: undefined }), /names no user/],
    ["garbage", async () => `${V5_COOKIE}=not-a-token`],
    ["a JSON header that is not JSON", async () => `${V5_COOKIE}=e30x.a.b.c.d`],
    [
      "five chunks",
      async () => Array.from({ length: 5 }, (_, i) => `${V5_COOKIE}.${i}=AAAA`).join("; "),
      /more than 4 chunks/,
    ],
    [
      "a gap in the chunks",
      async () => `${V5_COOKIE}.0=AAAA; ${V5_COOKIE}.2=AAAA`,
      /missing a chunk/,
    ],
    [
      "a huge cookie",
      async () => `${V5_COOKIE}=${"A".repeat(MAX_TOKEN_LENGTH + 1)}`,
      /longer than/,
    ],
  ];

  for (const [what, cookie, message] of hostile)
    test(`hostile Auth.js cookie: ${what} → 401 invalid_token`, async () => {
      await assertInvalid(await ask("/reports", await cookie()), message);
    });

  test("a bad Auth.js cookie is a 401 even on a public rule, as a bad bearer token is", async () => {
    await assertInvalid(await ask("/public/x", `${V5_COOKIE}=junk.a.b.c.d`));
    const good = await ask("/public/x", await v5Cookie());
    assert.equal(good.headers.get("x-auth-user-id"), "user-42");
  });

  test("bounds come before any decryption: refused cookies decrypt nothing", async () => {
    const server = stack.server;
    const before = {
      decrypted: await metric(server, "gatehouse_authjs_tokens_total", 'result="decrypted"'),
      invalid: await metric(server, "gatehouse_authjs_tokens_total", 'result="invalid"'),
      refused: await metric(server, "gatehouse_authjs_tokens_total", 'result="refused"'),
    };
    const many = Array.from({ length: 40 }, (_, i) => `${V5_COOKIE}.${i}=${"A".repeat(300)}`).join(
      "; ",
    );
    for (const cookie of [many, `${V5_COOKIE}=${"A".repeat(MAX_TOKEN_LENGTH + 1)}`])
      assert.equal((await ask("/reports", cookie)).status, 401);
    assert.equal(
      await metric(server, "gatehouse_authjs_tokens_total", 'result="refused"'),
      before.refused + 2,
    );
    assert.equal(
      await metric(server, "gatehouse_authjs_tokens_total", 'result="decrypted"'),
      before.decrypted,
    );
    assert.equal(
      await metric(server, "gatehouse_authjs_tokens_total", 'result="invalid"'),
      before.invalid,
    );
  });

  test("a cookie over the server's header limit is a 431, never a hang", async () => {
    const response = await ask("/reports", `${V5_COOKIE}=${"A".repeat(20_000)}`);
    assert.equal(response.status, 431);
  });

  test("a kept token decrypts once, and its answer is the same identity", async () => {
    const cookie = await v5Cookie({ sub: "kept-user" });
    const server = stack.server;
    const first = await ask("/reports", cookie);
    const decrypted = await metric(server, "gatehouse_authjs_tokens_total", 'result="decrypted"');
    const cached = await metric(server, "gatehouse_authjs_tokens_total", 'result="cached"');
    const again = await Promise.all(Array.from({ length: 5 }, () => ask("/reports", cookie)));
    for (const response of again) {
      assert.equal(response.status, 200);
      // The same header block: the same Identity object behind it.
      assert.equal(response.headers.get("x-auth-jwt"), first.headers.get("x-auth-jwt"));
    }
    assert.equal(
      await metric(server, "gatehouse_authjs_tokens_total", 'result="decrypted"'),
      decrypted,
    );
    assert.equal(
      await metric(server, "gatehouse_authjs_tokens_total", 'result="cached"'),
      cached + 5,
    );
  });

  test("requests racing with a new token share one decryption", async () => {
    const cookie = await v5Cookie({ sub: "racer" });
    const decrypted = await metric(
      stack.server,
      "gatehouse_authjs_tokens_total",
      'result="decrypted"',
    );
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask("/reports", cookie)));
    assert.ok(answers.every((response) => response.status === 200));
    assert.equal(
      await metric(stack.server, "gatehouse_authjs_tokens_total", 'result="decrypted"'),
      decrypted + 1,
    );
  });

  test("precedence: gatehouse's own session first, an Auth.js cookie when it is absent or gone", async () => {
    const session = await register(stack.server.url, uniqueEmail("authjs-both"));
    const authjs = await v5Cookie({ sub: "next-user" });
    const both = await ask("/reports", `${authjs}; ${session}`);
    assert.equal(both.status, 200);
    assert.equal(both.headers.get("x-auth-method"), "password");
    // A valid gatehouse session wins even over a bad Auth.js cookie.
    const withJunk = await ask("/reports", `${session}; ${V5_COOKIE}=junk.a.b.c.d`);
    assert.equal(withJunk.headers.get("x-auth-method"), "password");
    // A gatehouse session that is gone: the Auth.js cookie answers, valid or not.
    const stale = `gatehouse_session=${"A".repeat(43)}`;
    const fallback = await ask("/reports", `${stale}; ${authjs}`);
    assert.equal(fallback.headers.get("x-auth-user-id"), "next-user");
    await assertInvalid(await ask("/reports", `${stale}; ${V5_COOKIE}=junk.a.b.c.d`));
    // Neither: the login answer.
    const nobody = await ask("/reports", stale);
    assert.equal(nobody.status, 401);
    assert.ok(nobody.headers.get("location"));
  });

  test("a bearer token is answered by itself: the Auth.js cookie is not read", async () => {
    const cookie = await v5Cookie();
    const response = await ask("/reports", cookie, { authorization: "Bearer gatehouse_notakey" });
    await assertInvalid(response, /API key/);
    const notBearer = await ask("/reports", cookie, { authorization: "Basic dTpw" });
    assert.equal(notBearer.status, 401);
  });

  test("XSRF_PROTECTION: an unsafe request with an Auth.js cookie needs the token bound to that cookie", async () => {
    const guarded = await startGatehouse(stack.database, { ...ENV, XSRF_PROTECTION: "true" });
    try {
      const post = (cookie: string, header?: string) =>
        askResolve(guarded.url, "/reports", {
          cookie: header ? `${cookie}; XSRF-TOKEN=${header}` : cookie,
          "x-original-method": "POST",
          ...(header ? { "x-xsrf-token": header } : {}),
        });
      const token = await mintV5({ ...claims, sub: "xsrf-user" });
      const cookie = `${V5_COOKIE}=${token}`;
      assert.equal(
        (await askResolve(guarded.url, "/reports", { cookie })).status,
        200,
        "GET is safe",
      );
      const missing = await post(cookie);
      assert.equal(missing.status, 403);
      assert.equal((await bodyOf(missing)).error.code, "xsrf");
      // What the Next.js app's middleware computes (README): HMAC-SHA256 under the cookie's value.
      assert.equal((await post(cookie, await xsrfTokenOf(token))).status, 200);
      // Another session's token, e.g. planted by a sibling subdomain with its own cookie.
      const other = await mintV5({ ...claims, sub: "attacker" });
      assert.equal((await post(cookie, await xsrfTokenOf(other))).status, 403);
      // Chunked: the token of the joined value.
      const big = await mintV5({ ...claims, sub: "xsrf-big", id_token: "x".repeat(5000) });
      const chunks = cookieHeader(await chunkV5(V5_COOKIE, big));
      assert.equal((await post(chunks, await xsrfTokenOf(big))).status, 200);
    } finally {
      await guarded.stop();
    }
  });

  test("rules name the credential: credentials: [authjs] and [session]", async () => {
    const authjs = await v5Cookie();
    assert.equal((await ask("/next/page", authjs)).status, 200);
    const session = await register(stack.server.url, uniqueEmail("authjs-rules"));
    const refused = await ask("/next/page", session);
    assert.equal(refused.status, 403);
    assert.match((await bodyOf(refused)).error.message, /use an Auth\.js session/);
    const settings = await ask("/settings/x", authjs);
    assert.equal(settings.status, 403);
    assert.match(
      (await bodyOf(settings)).error.message,
      /an Auth\.js session is not accepted here/,
    );
  });

  test("a token issued longer ago than AUTHJS_MAX_AGE is refused, even while unexpired", async () => {
    const clock = advancingClock();
    const bounded = await startGatehouse(
      stack.database,
      { ...ENV, AUTHJS_MAX_AGE: "10m" },
      { clock },
    );
    try {
      const cookie = await v5Cookie({ sub: "aging" }, { maxAge: 3600 });
      assert.equal((await askResolve(bounded.url, "/reports", { cookie })).status, 200);
      clock.advance(9 * 60_000);
      assert.equal((await askResolve(bounded.url, "/reports", { cookie })).status, 200);
      // iat is when the token was made, a moment after this clock started.
      clock.advance(2 * 60_000);
      await assertInvalid(await askResolve(bounded.url, "/reports", { cookie }), /AUTHJS_MAX_AGE/);
      // The next-auth 4 fixtures were issued long before: refused outright.
      await assertInvalid(
        await askResolve(bounded.url, "/reports", {
          cookie: `next-auth.session-token=${v4.valid}`,
        }),
        /AUTHJS_MAX_AGE/,
      );
    } finally {
      await bounded.stop();
    }
  });

  test("a kept token stops at its expiry", async () => {
    const clock = advancingClock();
    const server = await startGatehouse(stack.database, ENV, { clock });
    try {
      const now = Math.floor(Date.now() / 1000);
      const cookie = `next-auth.session-token=${await mintV4({ sub: "short" }, { iat: now, maxAge: 30 })}`;
      assert.equal((await askResolve(server.url, "/reports", { cookie })).status, 200);
      // Past exp on gatehouse's clock: the kept identity is dropped and the token read again.
      clock.advance(31_000);
      const decrypted = await metric(server, "gatehouse_authjs_tokens_total", 'result="decrypted"');
      const response = await askResolve(server.url, "/reports", { cookie });
      assert.equal(response.status, 200, "jose still judges expiry on the real clock");
      assert.equal(
        await metric(server, "gatehouse_authjs_tokens_total", 'result="decrypted"'),
        decrypted + 1,
      );
    } finally {
      await server.stop();
    }
  });

  test("a custom cookie name binds v5 tokens to it (apps sharing a secret cannot swap cookies)", async () => {
    const other = await startGatehouse(stack.database, {
      ...ENV,
      AUTHJS_COOKIE_NAME: "shop.session-token",
    });
    try {
      const mine = await mintV5(claims, { salt: "shop.session-token" });
      const ok = await askResolve(other.url, "/reports", { cookie: `shop.session-token=${mine}` });
      assert.equal(ok.status, 200);
      // The default name is not read at all on this gatehouse.
      const defaultName = await askResolve(other.url, "/reports", { cookie: await v5Cookie() });
      assert.equal(defaultName.status, 401);
      assert.equal(defaultName.headers.get("www-authenticate"), null);
      // Another app's token (same secret, its own cookie name) under this name.
      const replayed = await askResolve(other.url, "/reports", {
        cookie: `shop.session-token=${await mintV5(claims)}`,
      });
      await assertInvalid(replayed);
    } finally {
      await other.stop();
    }
  });
});

before(() => {
  assert.ok(V5_SECRET.length >= 32);
});
