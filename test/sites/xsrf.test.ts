// XSRF protection on a satellite (SITES): the satellite's session gets its
// own XSRF cookie, scoped like its session cookie (no home Domain), at the
// hop and again from /auth/userinfo there; the resolver takes the
// satellite's token on the satellite and refuses the home's there.
import assert from "node:assert/strict";
import { test } from "node:test";
import { xsrfTokenFor } from "../../src/sessions/xsrf.ts";
import { describeOnEachBackend, type Stack } from "../helpers/backends.ts";
import { GOOD_PASSWORD, uniqueEmail } from "../helpers/gatehouse.ts";

const HOME = "auth.example.com";
const SHOP = "shop.example";

const setCookie = (response: Response, name: string) =>
  response.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));

describeOnEachBackend(
  "XSRF tokens on a satellite",
  {
    PUBLIC_URL: `https://${HOME}`,
    COOKIE_DOMAIN: "example.com",
    SITES: `[{ domain: ${SHOP} }]`,
    XSRF_PROTECTION: "true",
  },
  (stack: Stack) => {
    const request = (host: string, path: string, headers: Record<string, string> = {}) =>
      stack.server.gatehouse.app.request(`https://${host}${path}`, {
        headers: { host, ...headers },
      });

    test("the satellite's own XSRF cookie, and only its token passes there", async () => {
      const registered = await stack.server.gatehouse.app.request(`https://${HOME}/auth/register`, {
        method: "POST",
        headers: { host: HOME, "content-type": "application/json" },
        body: JSON.stringify({ email: uniqueEmail("sat-xsrf"), password: GOOD_PASSWORD }),
      });
      const home = setCookie(registered, "__Secure-gatehouse_session")?.split(";")[0] as string;
      assert.ok(home, "the home cookie has COOKIE_DOMAIN, so __Secure-");
      const homeToken = xsrfTokenFor(home.slice(home.indexOf("=") + 1));

      const start = await request(SHOP, "/auth/sites/start");
      const state = setCookie(start, "__Host-gatehouse_session_site")?.split(";")[0] as string;
      const authorize = new URL(start.headers.get("location") as string);
      const back = await request(HOME, `${authorize.pathname}${authorize.search}`, {
        cookie: home,
      });
      const callback = new URL(back.headers.get("location") as string);
      const done = await request(SHOP, `${callback.pathname}${callback.search}`, { cookie: state });
      assert.equal(done.status, 302);
      const satellite = setCookie(done, "__Host-gatehouse_session") as string;
      assert.ok(satellite, "host-only on the satellite, whatever COOKIE_DOMAIN says");
      const xsrf = setCookie(done, "XSRF-TOKEN") as string;
      assert.doesNotMatch(xsrf, /Domain=/i, "scoped like the satellite's session");
      assert.doesNotMatch(xsrf, /HttpOnly/i, "scripts read it");
      const pair = satellite.split(";")[0] as string;
      const token = xsrfTokenFor(pair.slice(pair.indexOf("=") + 1));
      assert.equal(xsrf.split(";")[0], `XSRF-TOKEN=${token}`);

      const info = await request(SHOP, "/auth/userinfo", { cookie: pair });
      assert.equal(info.status, 200);
      assert.equal(setCookie(info, "XSRF-TOKEN")?.split(";")[0], `XSRF-TOKEN=${token}`);
      assert.doesNotMatch(setCookie(info, "XSRF-TOKEN") ?? "", /Domain=/i);

      const post = (value: string) =>
        fetch(`${stack.server.url}/_resolve`, {
          headers: {
            "x-original-uri": "/orders",
            "x-original-method": "POST",
            "x-forwarded-proto": "https",
            "x-forwarded-host": SHOP,
            cookie: `${pair}; XSRF-TOKEN=${value}`,
            "x-xsrf-token": value,
          },
        });
      assert.equal((await post(token)).status, 200);
      assert.equal(
        (await post(homeToken)).status,
        403,
        "the home session's token is not this one's",
      );
    });
  },
);
