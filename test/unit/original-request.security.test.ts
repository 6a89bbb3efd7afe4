import assert from "node:assert/strict";
import { test } from "node:test";
import {
  isBrowserNavigation,
  readOriginalRequest,
  returnTarget,
} from "../../src/resolve/original-request.ts";
import { clientAddress } from "../../src/security/client-address.ts";
import { isTrustedPeer, parseCidrList } from "../../src/security/trusted-proxies.ts";

/** A trusted proxy always names the method; tests that are not about it get GET from the URL's family. */
const withMethod = (headers: Record<string, string>): Record<string, string> =>
  "x-original-method" in headers || "x-forwarded-method" in headers
    ? headers
    : "x-forwarded-uri" in headers
      ? { ...headers, "x-forwarded-method": "GET" }
      : { ...headers, "x-original-method": "GET" };
const read = (headers: Record<string, string>, trusted = true, method = "GET") =>
  readOriginalRequest({
    trusted,
    header: (name) => (trusted ? withMethod(headers) : headers)[name],
    method,
    ownUri: "/_resolve",
    ownHost: "gatehouse.internal:4180",
    ownProto: "http",
  });
const returnTo = (headers: Record<string, string>, trusted = true) => {
  const original = read(headers, trusted);
  assert.ok(!("error" in original));
  return returnTarget(original, (name) => headers[name], trusted);
};

test("each proxy's headers describe the original request", () => {
  const traefik = read({
    "x-forwarded-method": "POST",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "App.Example.com.",
    "x-forwarded-uri": "/api/Admin?q=1#x",
  });
  assert.deepEqual(traefik, {
    method: "POST",
    host: "app.example.com",
    path: "/api/Admin",
    encodedSlashes: false,
    otherReadings: [],
    url: "https://app.example.com/api/Admin?q=1#x",
  });
  const ingress = read({
    "x-original-url": "https://shop.example.com:8443/cart?x=1",
    "x-original-method": "DELETE",
    "x-forwarded-proto": "",
  });
  assert.ok(!("error" in ingress));
  assert.equal(ingress.host, "shop.example.com:8443");
  assert.equal(ingress.method, "DELETE");
  assert.equal(ingress.path, "/cart");
  const nginx = read({
    "x-original-uri": "/docs/x?a=/../admin",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "site.example.com:443",
  });
  assert.ok(!("error" in nginx));
  assert.equal(nginx.url, "https://site.example.com/docs/x?a=/../admin");
  assert.equal(nginx.path, "/docs/x");
  assert.equal(nginx.host, "site.example.com");
  const idn = read({ "x-forwarded-host": "BÜCHER.example", "x-forwarded-uri": "/" });
  assert.ok(!("error" in idn));
  assert.equal(idn.host, "xn--bcher-kva.example");
  const ipv6 = read({ "x-original-url": "http://[::1]:8080/x" });
  assert.ok(!("error" in ipv6));
  assert.equal(ipv6.host, "[::1]:8080");
});

test("the query string and fragment never decide a rule", () => {
  for (const uri of ["/public?/admin", "/public#/admin", "/public?x=/../admin"]) {
    const result = read({ "x-forwarded-host": "a.example.com", "x-forwarded-uri": uri });
    assert.ok(!("error" in result), uri);
    assert.equal(result.path, "/public", uri);
  }
});

test("the method comes from the same proxy's headers as the URL", () => {
  // ingress-nginx passes every client header to the auth request: a client's
  // X-Forwarded-Method must not turn its DELETE into a GET for the rules.
  const ingress = read({
    "x-original-url": "https://shop.example.com/cart",
    "x-original-method": "DELETE",
    "x-forwarded-method": "GET",
    "x-forwarded-uri": "/public",
  });
  assert.ok(!("error" in ingress));
  assert.deepEqual([ingress.method, ingress.path], ["DELETE", "/cart"]);
  // ingress-nginx without X-Original-Method: refused, never the client's
  // X-Forwarded-Method nor the auth subrequest's own method.
  const ingressWithoutMethod = readOriginalRequest({
    trusted: true,
    header: (name) =>
      ({ "x-original-url": "https://shop.example.com/cart", "x-forwarded-method": "GET" })[
        name as "x-original-url"
      ],
    method: "POST",
    ownUri: "/_resolve",
    ownHost: "gatehouse.internal:4180",
    ownProto: "http",
  });
  assert.match(
    "error" in ingressWithoutMethod ? ingressWithoutMethod.error : "",
    /no original method/,
  );
  const traefik = read({
    "x-forwarded-uri": "/x",
    "x-forwarded-host": "a.example.com",
    "x-forwarded-method": "PUT",
    "x-original-method": "GET",
  });
  assert.ok(!("error" in traefik));
  assert.equal(traefik.method, "PUT");
});

test("X-Auth-Request-Redirect sets the return target, resolved against the original URL", () => {
  const base = { "x-original-url": "https://shop.example.com/cart?x=1" };
  assert.equal(
    returnTo({ ...base, "x-auth-request-redirect": "/checkout?step=2" }),
    "https://shop.example.com/checkout?step=2",
  );
  assert.equal(returnTo(base), "https://shop.example.com/cart?x=1");
  assert.equal(
    returnTo({ ...base, "x-auth-request-redirect": "javascript:alert(1)" }),
    "https://shop.example.com/cart?x=1",
  );
  assert.equal(
    returnTo({ "x-auth-request-redirect": "/elsewhere" }, false),
    "http://gatehouse.internal:4180/_resolve",
  );
});

test("forwarded headers from an untrusted peer are refused; without them it asks about /_resolve itself", () => {
  // A proxy missing from TRUSTED_PROXIES: judging gatehouse's own URL would skip every rule.
  const result = read(
    { "x-forwarded-host": "admin.example.com", "x-forwarded-uri": "/public" },
    false,
  );
  assert.match(
    "error" in result ? result.error : "",
    /not a trusted proxy: add the proxy's address to TRUSTED_PROXIES/,
  );
  const direct = read({}, false);
  assert.ok(!("error" in direct));
  assert.equal(direct.host, "gatehouse.internal:4180");
  assert.equal(direct.path, "/_resolve");
});

test("unreadable forwarded requests are errors, never guesses", () => {
  const bad: Record<string, string>[] = [
    { "x-original-url": "not a url" },
    { "x-original-url": "javascript:alert(1)" },
    { "x-original-url": "https://example.com/%00" },
    { "x-forwarded-proto": "gopher", "x-forwarded-host": "a.example.com", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "evil.com/x", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "a.example.com", "x-forwarded-uri": "no-slash" },
    { "x-forwarded-host": "a.example.com", "x-forwarded-uri": "/%zz" },
    { "x-forwarded-method": "GET /x", "x-forwarded-host": "a.example.com", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "a.example.com", "x-forwarded-uri": `/${"a".repeat(9000)}` },
    // A list of hosts: gatehouse would judge one while the application reads another.
    { "x-forwarded-host": "public.example.com, admin.example.com", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "a.example.com:99999", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "a.example.com\\x", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "user@a.example.com", "x-forwarded-uri": "/" },
    { "x-original-url": "https://a.example.com\\admin" },
    { "x-original-url": "https://a.example.com/admin/../public" },
    { "x-forwarded-host": "a.example.com", "x-forwarded-uri": "/admin/%2e%2e/public/x" },
    // Left out by the proxy: refused, never guessed from the subrequest itself.
    { "x-forwarded-uri": "/", host: "gatehouse.internal" },
    { "x-forwarded-host": "", "x-forwarded-uri": "/" },
    { "x-forwarded-host": "a.example.com" },
    // The authority ends only at /: `Host: a.com?` must not move the path into a query.
    { "x-original-url": "http://app.example.com?/admin/secret" },
    { "x-original-url": "http://app.example.com#/admin" },
    // Methods are case-sensitive, and an override must be a method.
    { "x-forwarded-host": "a.example.com", "x-forwarded-uri": "/", "x-forwarded-method": "get" },
    {
      "x-forwarded-host": "a.example.com",
      "x-forwarded-uri": "/",
      "x-http-method-override": "DE LETE",
    },
  ];
  for (const headers of bad)
    assert.ok("error" in read(headers), JSON.stringify(headers).slice(0, 100));
});

test("browser navigations are told apart from API calls", () => {
  const base = { "x-forwarded-host": "a.example.com", "x-forwarded-uri": "/" };
  const nav = (extra: Record<string, string>, method = "GET") => {
    const headers: Record<string, string> = { ...base, ...extra, "x-forwarded-method": method };
    const r = read(headers);
    return !("error" in r) && isBrowserNavigation(r, (name) => headers[name]);
  };
  assert.equal(nav({ accept: "text/html,application/xhtml+xml" }), true);
  assert.equal(nav({ accept: "application/json" }), false);
  assert.equal(nav({ accept: "text/html", "x-requested-with": "XMLHttpRequest" }), false);
  assert.equal(nav({ accept: "text/html", "sec-fetch-mode": "cors" }), false);
  assert.equal(nav({ accept: "text/html" }, "POST"), false);
});

test("trusted proxy ranges and client addresses", () => {
  const ranges = parseCidrList(["127.0.0.0/8", "::1", "10.0.0.0/8"]);
  assert.equal(isTrustedPeer("127.0.0.1", ranges), true);
  assert.equal(isTrustedPeer("::ffff:127.0.0.1", ranges), true);
  assert.equal(isTrustedPeer("::1", ranges), true);
  assert.equal(isTrustedPeer("192.168.1.1", ranges), false);
  assert.equal(isTrustedPeer("garbage", ranges), false);
  assert.equal(isTrustedPeer(undefined, ranges), false);
  assert.throws(() => parseCidrList(["10.0.0.0/33"]));
  assert.equal(clientAddress("127.0.0.1", "203.0.113.9, 10.1.1.1", ranges), "203.0.113.9");
  assert.equal(clientAddress("127.0.0.1", "1.1.1.1, 203.0.113.9", ranges), "203.0.113.9");
  assert.equal(clientAddress("198.51.100.7", "203.0.113.9", ranges), "198.51.100.7");
  assert.equal(clientAddress("::ffff:198.51.100.7", undefined, ranges), "198.51.100.7");
  // Every hop trusted: the peer's own entry, never one the client could have written.
  assert.equal(clientAddress("127.0.0.1", "10.6.6.6, 127.0.0.1", ranges), "127.0.0.1");
  // A LAN client that is not a trusted proxy cannot choose its address.
  assert.equal(clientAddress("192.168.1.9", "203.0.113.99", ranges), "192.168.1.9");
});
