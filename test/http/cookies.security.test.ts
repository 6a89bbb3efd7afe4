// The session cookie's name and attributes follow PUBLIC_URL and COOKIE_DOMAIN,
// and the server keeps idle connections longer than nginx does.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { GOOD_PASSWORD, startGatehouse, uniqueEmail } from "../helpers/gatehouse.ts";

let database: DatabaseHandle;
before(async () => {
  database = await openDatabase({ kind: "pglite" });
});
after(() => database.close());

async function registrationCookie(
  env: Record<string, string>,
): Promise<{ cookie: string; keepAlive: string | null }> {
  const server = await startGatehouse(database, env);
  try {
    const response = await fetch(`${server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: uniqueEmail(), password: GOOD_PASSWORD }),
    });
    assert.equal(response.status, 201);
    return {
      cookie: response.headers.get("set-cookie") ?? "",
      keepAlive: response.headers.get("keep-alive"),
    };
  } finally {
    await server.stop();
  }
}

test("https: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain", async () => {
  const { cookie } = await registrationCookie({ PUBLIC_URL: "https://auth.example.test" });
  assert.match(cookie, /^__Host-gatehouse_session=[A-Za-z0-9_-]{43};/);
  for (const attribute of ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"])
    assert.ok(cookie.includes(attribute), attribute);
  assert.ok(!/Domain=/i.test(cookie));
});

test("https with COOKIE_DOMAIN: __Secure- prefix and the domain", async () => {
  const { cookie } = await registrationCookie({
    PUBLIC_URL: "https://auth.example.test",
    COOKIE_DOMAIN: "example.test",
  });
  assert.match(cookie, /^__Secure-gatehouse_session=/);
  assert.match(cookie, /Domain=example\.test/);
  assert.ok(cookie.includes("Secure"));
});

test("plain http (local development): a plain name without Secure; keep-alive outlasts nginx's 60 s", async () => {
  const { cookie, keepAlive } = await registrationCookie({});
  assert.match(cookie, /^gatehouse_session=/);
  assert.ok(!cookie.includes("Secure"));
  assert.ok(cookie.includes("HttpOnly"));
  assert.equal(keepAlive, "timeout=75");
});

test("the XSRF cookie: only when some rule checks XSRF; the session cookie's scope, readable by scripts", async () => {
  const cookiesOf = async (env: Record<string, string>) => {
    const server = await startGatehouse(database, env);
    try {
      const response = await fetch(`${server.url}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: uniqueEmail(), password: GOOD_PASSWORD }),
      });
      assert.equal(response.status, 201);
      return response.headers.getSetCookie();
    } finally {
      await server.stop();
    }
  };
  const without = await cookiesOf({});
  assert.equal(without.length, 1, "no XSRF cookie unless a rule checks XSRF");
  for (const env of <Record<string, string>[]>[
    { XSRF_PROTECTION: "true" },
    { RULES: "[{ path: /api/**, access: authenticated, xsrf: true }]" },
  ]) {
    const cookies = await cookiesOf({
      ...env,
      PUBLIC_URL: "https://auth.example.test",
      COOKIE_DOMAIN: "example.test",
    });
    const xsrf = cookies.find((cookie) => cookie.startsWith("XSRF-TOKEN="));
    assert.ok(xsrf, JSON.stringify(cookies));
    for (const attribute of ["Path=/", "Secure", "SameSite=Lax", "Domain=example.test"])
      assert.ok(xsrf.includes(attribute), attribute);
    assert.ok(!xsrf.includes("HttpOnly"), "scripts read it");
  }
});
