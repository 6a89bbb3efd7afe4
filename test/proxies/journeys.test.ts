// The journeys through each real proxy running its shipped deploy/ config:
// what a browser, an API client and the application behind the proxy see.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { IDENTITY_CLAIMS } from "../../src/resolve/rules.ts";
import { startCaddy } from "../helpers/caddy.ts";
import { rulesFile } from "../helpers/config-file.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import {
  bodyOf,
  GOOD_PASSWORD,
  type RunningGatehouse,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { rawRequest } from "../helpers/http.ts";
import { startIngressNginx } from "../helpers/ingress-nginx.ts";
import { type ProxyOptions, startNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";
import { startTraefikHarness } from "../helpers/traefik-harness.ts";

/** A top-level browser navigation, sent raw: fetch would add Sec-Fetch-Mode: cors, which no navigation sends. */
function navigate(url: string, headers: Record<string, string> = {}) {
  return rawRequest(url, {
    accept: "text/html,application/xhtml+xml",
    "sec-fetch-mode": "navigate",
    ...headers,
  });
}

/**
 * Sends the path exactly as written (fetch and `new URL` would resolve dot
 * segments and backslashes before the proxy ever saw them).
 */
function rawPath(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: options.method ?? "GET", headers: options.headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The x-auth-* headers gatehouse sends; any other name reaching the application came from the client. */
const GATEHOUSE_HEADERS = new Set([
  ...IDENTITY_CLAIMS.map((claim) => `x-auth-${claim}`),
  "x-auth-anonymous",
]);
const foreignAuthHeaders = (headers: Record<string, string>) =>
  Object.keys(headers).filter(
    (name) => /^x[-_]auth[-_]/i.test(name) && !GATEHOUSE_HEADERS.has(name),
  );

type ProxyStarter = (options: ProxyOptions) => Promise<{ stop(): Promise<void> }>;

const proxies: { name: string; start: ProxyStarter; env?: Record<string, string> }[] = [
  { name: "nginx", start: startNginx },
  { name: "caddy", start: startCaddy },
  // Traefik cannot edit a Cookie header: gatehouse answers with the filtered one.
  {
    name: "the Traefik ForwardAuth harness",
    start: startTraefikHarness,
    env: { FORWARD_COOKIE_HEADER: "true" },
  },
  { name: "nginx configured as ingress-nginx configures it", start: startIngressNginx },
];

type Stack = {
  database: DatabaseHandle;
  gatehouse: RunningGatehouse;
  base: string;
  /** Starts gatehouse again after a test stopped it: same port, same settings. */
  restartGatehouse(): Promise<void>;
};

/** gatehouse on PGlite with two rules, the echo application, and the proxy in front: started before the suite's tests. */
function useStack(
  startProxy: ProxyStarter,
  options: { authCache?: boolean; env?: Record<string, string> } = {},
): Stack {
  const stack = {} as Stack;
  let app: Awaited<ReturnType<typeof startEchoApp>> | undefined;
  let proxy: { stop(): Promise<void> } | undefined;
  before(async () => {
    const rules = rulesFile(
      "  - path: /public/**",
      "    access: public",
      "  - path: /admin/**",
      "    roles: [admin]",
      "  - path: /staff/**",
      "    methods: [GET]",
      "    roles: [admin]",
    );
    const proxyPort = await freePort();
    stack.base = `http://127.0.0.1:${proxyPort}`;
    stack.database = await openDatabase({ kind: "pglite" });
    const env = {
      PUBLIC_URL: stack.base,
      GATEHOUSE_CONFIG: rules,
      ...options.env,
    };
    stack.gatehouse = await startGatehouse(stack.database, env);
    const { port } = stack.gatehouse;
    stack.restartGatehouse = async () => {
      stack.gatehouse = await startGatehouse(stack.database, env, { port });
    };
    app = await startEchoApp();
    proxy = await startProxy({
      gatehousePort: stack.gatehouse.port,
      appPort: app.port,
      port: proxyPort,
      authCache: options.authCache,
    });
  });
  after(async () => {
    await proxy?.stop();
    await app?.stop();
    await stack.gatehouse?.stop();
    await stack.database?.close();
  });
  return stack;
}

/** Registers through the proxy (so the cookie belongs to the proxy's origin) and returns the cookie. */
async function signUpThrough(base: string, email = uniqueEmail()): Promise<string> {
  const response = await fetch(`${base}/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
    body: new URLSearchParams({ email, password: GOOD_PASSWORD }),
    redirect: "manual",
  });
  assert.equal(response.status, 303);
  return sessionCookie(response);
}

for (const { name: proxyName, start: startProxy, env } of proxies) {
  describe(`through ${proxyName}`, () => {
    const stack = useStack(startProxy, { env });
    let base: string;
    let database: DatabaseHandle;
    before(() => {
      ({ base, database } = stack);
    });
    const signUp = (email?: string) => signUpThrough(base, email);

    const browser = { accept: "text/html,application/xhtml+xml" };

    test("1. an anonymous browser is redirected to the login page with the original URL", async () => {
      // A client's X-Auth-Request-Redirect (which gatehouse believes from a
      // trusted proxy) does not choose where the login page returns.
      const response = await navigate(`${base}/reports/2026?tab=a&sort=b`, {
        "x-auth-request-redirect": "/elsewhere",
      });
      assert.equal(response.status, 302);
      const location = new URL(response.headers.location ?? "");
      assert.equal(location.origin, base);
      assert.equal(location.pathname, "/auth/login");
      assert.equal(location.searchParams.get("rd"), `${base}/reports/2026?tab=a&sort=b`);
      const page = await fetch(location);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<form method="post"/);
    });

    test("2. an anonymous API request gets 401 and no redirect", async () => {
      const apiClients: Record<string, string>[] = [
        { accept: "application/json" },
        { accept: "text/html", "x-requested-with": "XMLHttpRequest" },
      ];
      for (const headers of apiClients) {
        const response = await fetch(`${base}/api/items`, { headers, redirect: "manual" });
        assert.equal(response.status, 401, JSON.stringify(headers));
      }
    });

    test("3. after login through the proxy, the browser returns to the page and the app gets the identity", async () => {
      const email = uniqueEmail();
      await signUp(email);
      const rd = `${base}/dashboard?x=1`;
      const login = await fetch(`${base}/auth/login?rd=${encodeURIComponent(rd)}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
        body: new URLSearchParams({ email, password: GOOD_PASSWORD }),
        redirect: "manual",
      });
      assert.equal(login.status, 303);
      assert.equal(login.headers.get("location"), rd);
      const cookie = sessionCookie(login);
      const echoed = await bodyOf(await fetch(rd, { headers: { cookie, ...browser } }));
      assert.equal(echoed.url, "/dashboard?x=1");
      assert.match(echoed.headers["x-auth-user-id"], /^[0-9a-f-]{36}$/);
      assert.equal(echoed.headers["x-auth-email"], email);
      assert.equal(echoed.headers["x-auth-method"], "password");
      assert.equal(echoed.headers["x-auth-anonymous"], "false");
      assert.ok(echoed.headers["x-auth-jwt"].split(".").length === 3);
    });

    test("4. forged identity headers never reach the application", async () => {
      const cookie = await signUp();
      const forged = {
        "X-Auth-User-Id": "forged",
        "x-auth-email": "forged@example.test",
        "x-auth-roles": "admin",
        "x-auth-anonymous": "forged",
        // Names gatehouse never sends: only stripping, not overwriting, stops them.
        "X-Auth-Whatever": "forged",
        "X-Auth-Tenant": "forged",
        "X-Auth-Admin": "forged",
        "X-Auth-Request-Redirect": "forged",
      };
      for (const session of [{ cookie }, {}] as Record<string, string>[]) {
        const path = "cookie" in session ? "/page" : "/public/page";
        const echoed = await bodyOf(
          await fetch(`${base}${path}`, { headers: { ...forged, ...session } }),
        );
        const seen = JSON.stringify(echoed.headers);
        assert.ok(!seen.includes("forged"), seen);
        assert.deepEqual(foreignAuthHeaders(echoed.headers), [], seen);
        // Empty (Caddy) or absent (nginx sends no empty header), and never the client's copy.
        assert.ok(!echoed.headers["x-auth-roles"], "roles overwritten, not appended");
      }
      // Underscore and mixed spellings, sent raw.
      const { body: raw } = await rawRequest(`${base}/page`, {
        cookie,
        x_auth_user_id: "forged",
        "x-auth_email": "forged",
        X_Auth_Roles: "forged",
        X_Auth_Whatever: "forged",
        "x_auth-whatever": "forged",
        "X-Auth_Whatever": "forged",
      });
      assert.ok(!raw.includes("forged"), raw);
      assert.deepEqual(foreignAuthHeaders(JSON.parse(raw).headers), [], raw);
    });

    test("5. after logout, the old cookie no longer reaches the application", async () => {
      const cookie = await signUp();
      assert.equal((await fetch(`${base}/page`, { headers: { cookie } })).status, 200);
      const out = await fetch(`${base}/auth/logout`, {
        method: "POST",
        headers: { cookie, origin: base },
        redirect: "manual",
      });
      assert.equal(out.status, 303);
      const after = await navigate(`${base}/page`, { cookie });
      assert.equal(after.status, 302);
      assert.match(after.headers.location ?? "", /\/auth\/login\?rd=/);
    });

    test("6. a public rule forwards anonymously with x-auth-anonymous: true and no identity", async () => {
      const echoed = await bodyOf(await fetch(`${base}/public/about`));
      assert.equal(echoed.headers["x-auth-anonymous"], "true");
      // Empty or absent, depending on the proxy.
      assert.ok(!echoed.headers["x-auth-user-id"]);
      assert.ok(!echoed.headers["x-auth-email"]);
    });

    test("7. a forbidden rule gives 403 to the client, no redirect loop", async () => {
      const email = uniqueEmail();
      const cookie = await signUp(email);
      const forbidden = await fetch(`${base}/admin/panel`, {
        headers: { cookie, ...browser },
        redirect: "manual",
      });
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.headers.get("location"), null);
      await database.db
        .update(users)
        .set({ roles: ["admin"] })
        .where(eq(users.email, email));
      const again = await fetch(`${base}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: base },
        body: JSON.stringify({ email, password: GOOD_PASSWORD }),
      });
      const admin = sessionCookie(again);
      assert.equal(
        (await fetch(`${base}/admin/panel`, { headers: { cookie: admin } })).status,
        200,
      );
    });

    test("8. a client cannot choose the request the rules see", async () => {
      const lies: Record<string, string>[] = [
        { "x-forwarded-uri": "/public/x", "x-forwarded-method": "GET" },
        { "x-original-uri": "/public/x" },
        { "x-original-url": `${base}/public/x`, "x-original-method": "GET" },
        { "x-forwarded-host": "elsewhere.example", "x-forwarded-uri": "/public/x" },
      ];
      for (const headers of lies) {
        const response = await fetch(`${base}/api/private/data`, {
          headers: { accept: "application/json", ...headers },
          redirect: "manual",
        });
        assert.equal(response.status, 401, JSON.stringify(headers));
        assert.ok(
          !(await response.text()).includes('"headers"'),
          "the application was not reached",
        );
      }
    });

    test("9. gatehouse down: the proxy denies, and never forwards the request", async () => {
      const cookie = await signUp();
      await stack.gatehouse.stop();
      try {
        const response = await fetch(`${base}/page`, { headers: { cookie } });
        assert.ok(response.status >= 500, `status ${response.status}`);
        const text = await response.text();
        assert.ok(!text.includes("x-auth"), "the application was not reached");
      } finally {
        await stack.restartGatehouse();
      }
    });

    test("10. the session cookie goes to gatehouse, never to the application; the application's own cookies do", async () => {
      const cookie = await signUp();
      const [name, value] = cookie.split("=") as [string, string];
      const sent = [
        `theme=dark; ${cookie}; lang=fr`,
        `${cookie}; theme=dark`,
        `theme=dark; ${cookie}`,
      ];
      for (const header of sent) {
        const response = await fetch(`${base}/page`, { headers: { cookie: header } });
        assert.equal(response.status, 200, header);
        const echoed = JSON.parse(await response.text());
        assert.match(echoed.headers["x-auth-user-id"], /^[0-9a-f-]{36}$/, "gatehouse saw it");
        const received = String(echoed.headers.cookie ?? "");
        assert.ok(!received.includes(value), `${header} -> ${received}`);
        assert.match(received, /(^|; *)theme=dark(;|$)/, `${header} -> ${received}`);
      }
      // The https spelling too (this deployment is http, so on a public path).
      const https = `theme=dark; __Host-${name}=${value}`;
      const echoed = await bodyOf(await fetch(`${base}/public/x`, { headers: { cookie: https } }));
      assert.equal(echoed.headers.cookie, "theme=dark", https);
      // And the spelling with a Domain (COOKIE_DOMAIN, or a SITES entry with cookie_domain).
      for (const shared of [
        `theme=dark; __Secure-${name}=${value}`,
        `__Secure-${name}=${value}; theme=dark`,
      ]) {
        const seen = await bodyOf(await fetch(`${base}/public/x`, { headers: { cookie: shared } }));
        assert.equal(seen.headers.cookie, "theme=dark", shared);
      }
      const only = await bodyOf(await fetch(`${base}/page`, { headers: { cookie } }));
      assert.ok(!only.headers.cookie, "nothing left, nothing sent");
      const theirs = await bodyOf(
        await fetch(`${base}/public/x`, { headers: { cookie: "theme=dark; lang=fr" } }),
      );
      assert.equal(theirs.headers.cookie, "theme=dark; lang=fr", "other cookies unchanged");
    });

    test("11. a path the application could read differently from the rules never reaches it", async () => {
      const member = await signUp();
      const refused = [
        "/admin/%2e%2e/public/x",
        "/admin/%2E%2E/public/x",
        "/admin/../public/x",
        "/admin/..%2fpublic/x",
        "/admin/..%2Fpublic/x",
        "/admin/..\\public/x",
        "/admin/..%5cpublic/x",
        "/admin/.%2e/public/x",
        "//public/admin/x",
        "/ADMIN/x",
        "/Admin/x",
        "/admin;x=1/y",
        "/admin%3bx/y",
        "/admin%3Bx/y",
      ];
      for (const path of refused) {
        for (const who of [{}, { cookie: member }] as Record<string, string>[]) {
          const label = `${path} ${"cookie" in who ? "as a user without the role" : "anonymously"}`;
          const response = await rawPath(base, path, {
            headers: { accept: "application/json", ...who },
          });
          assert.ok(response.status >= 300, `${label}: ${response.status}`);
          assert.ok(!response.body.includes('"headers"'), `${label}: the application was reached`);
        }
      }
      // A rule naming GET covers HEAD.
      assert.equal((await rawPath(base, "/staff/x", { headers: { cookie: member } })).status, 403);
      const head = await rawPath(base, "/staff/x", { method: "HEAD", headers: { cookie: member } });
      assert.ok(head.status >= 300, `HEAD /staff/x: ${head.status}`);
      // A Host naming two hosts: the rules would judge one, the application get both.
      const twoHosts = await rawPath(base, "/public/x", {
        headers: { host: `${new URL(base).host},elsewhere.example` },
      });
      assert.ok(twoHosts.status >= 300, `two hosts: ${twoHosts.status}`);
      // The same requests, read the same way by everyone, still pass.
      assert.equal((await rawPath(base, "/public/x")).status, 200);
      assert.equal((await rawPath(base, "/x", { headers: { cookie: member } })).status, 200);
    });
  });
}

// The optional, commented-out answer caches of the shipped nginx files, turned on.
const cachingProxies = proxies.filter(
  ({ start }) => start === startNginx || start === startIngressNginx,
);
for (const { name: proxyName, start: startProxy } of cachingProxies) {
  describe(`through ${proxyName}, with its auth cache enabled`, () => {
    // ingress-nginx's auth cache obeys gatehouse's Cache-Control, as README says to set it.
    const stack = useStack(startProxy, { authCache: true, env: { AUTH_CACHE_SECONDS: "5" } });
    // 5 s, counted by nginx in whole seconds.
    const CACHE_VALIDITY_MS = 6_000;

    test("12. each session gets its own cached answer, never another user's", async () => {
      const alice = await signUpThrough(stack.base);
      const bob = await signUpThrough(stack.base);
      const seen: string[] = [];
      for (const cookie of [alice, bob, alice, bob]) {
        const echoed = await bodyOf(await fetch(`${stack.base}/page`, { headers: { cookie } }));
        seen.push(echoed.headers["x-auth-user-id"]);
      }
      assert.equal(seen[0], seen[2]);
      assert.equal(seen[1], seen[3]);
      assert.notEqual(seen[0], seen[1]);
      const anonymous = await fetch(`${stack.base}/page`, { redirect: "manual" });
      assert.ok(
        [401, 302].includes(anonymous.status),
        `a cached 200 never answers a request without the cookie (got ${anonymous.status})`,
      );
    });

    test("13. after logout, the cached answer stops letting the old cookie in within the documented validity", async () => {
      const cookie = await signUpThrough(stack.base);
      assert.equal((await fetch(`${stack.base}/page`, { headers: { cookie } })).status, 200);
      const out = await fetch(`${stack.base}/auth/logout`, {
        method: "POST",
        headers: { cookie, origin: stack.base },
        redirect: "manual",
      });
      assert.equal(out.status, 303);
      const loggedOutAt = Date.now();
      // The cache is really on: the answer cached a moment ago still lets the old cookie in.
      assert.equal((await fetch(`${stack.base}/page`, { headers: { cookie } })).status, 200);
      let status = 200;
      while (status === 200 && Date.now() - loggedOutAt < CACHE_VALIDITY_MS + 3_000) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = (await navigate(`${stack.base}/page`, { cookie })).status;
      }
      assert.equal(status, 302);
      assert.ok(
        Date.now() - loggedOutAt <= CACHE_VALIDITY_MS + 1_000,
        "refused within the validity",
      );
    });
  });
}
