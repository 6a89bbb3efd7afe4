import assert from "node:assert/strict";
import { test } from "node:test";
import { isCrossSiteRequest, validateRedirectTarget } from "../../src/security/redirect-target.ts";

const policy = {
  publicUrl: new URL("https://auth.example.com"),
  allowedHosts: [
    "app.example.com",
    "*.apps.example.com",
    "admin.example.com:8443",
    "*.ports.example.com:9443",
  ],
};

test("allowed targets come back as absolute URLs", () => {
  const cases: [string, string][] = [
    ["https://auth.example.com/account", "https://auth.example.com/account"],
    ["/dashboard?x=1#top", "https://auth.example.com/dashboard?x=1#top"],
    ["https://app.example.com/a/b", "https://app.example.com/a/b"],
    ["https://APP.example.com/", "https://app.example.com/"],
    ["https://one.apps.example.com/x", "https://one.apps.example.com/x"],
    ["https://deep.one.apps.example.com/", "https://deep.one.apps.example.com/"],
    ["https://admin.example.com:8443/", "https://admin.example.com:8443/"],
    ["https://auth.example.com:443/x", "https://auth.example.com/x"],
    ["https://app.example.com:443/", "https://app.example.com/"],
    ["https://one.ports.example.com:9443/", "https://one.ports.example.com:9443/"],
    ["/%2F%2Fevil.com", "https://auth.example.com/%2F%2Fevil.com"],
    // Scheme-relative without slashes resolves onto our own host.
    ["https:evil.com", "https://auth.example.com/evil.com"],
    ["https:/evil.com", "https://auth.example.com/evil.com"],
  ];
  for (const [input, expected] of cases)
    assert.equal(validateRedirectTarget(input, policy), expected, input);
});

test("classic open-redirect bypasses are refused", () => {
  const hostile: unknown[] = [
    "//evil.com",
    "///evil.com",
    "////evil.com/x",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    " https://evil.com",
    "https://example.com@evil.com",
    "https://auth.example.com@evil.com/",
    "https://auth.example.com:pw@evil.com/",
    "https://user@auth.example.com/",
    "https://auth.example.com.evil.com/",
    "https://evil.com/https://auth.example.com",
    "https://evilapp.example.com/",
    "https://apps.example.com/",
    "https://xapps.example.com/",
    "https://admin.example.com/",
    "https://admin.example.com:9443/",
    // Scheme, host and port, not the host name alone.
    "https://auth.example.com:9999/x",
    "https://auth.example.com:80/x",
    "https://app.example.com:8443/",
    "https://one.apps.example.com:8443/",
    "https://one.ports.example.com/",
    "https://ports.example.com:9443/",
    "http://app.example.com/",
    "http://admin.example.com:8443/",
    "http://auth.example.com/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://auth.example.com/",
    "https://evil.com%2F@auth.example.com",
    "http://[::1]/",
    "https://",
    "http://%zz/",
    "https://auth.example.com\u0000.evil.com/",
    "/\u0085/evil.com",
    "",
    "x".repeat(5000),
    ["https://auth.example.com/"],
    42,
    null,
    undefined,
  ];
  for (const input of hostile) {
    assert.equal(validateRedirectTarget(input, policy), undefined, JSON.stringify(input));
  }
});

test("an http deployment allows http, and https, on exactly its own origin and allowed hosts", () => {
  const local = { publicUrl: new URL("http://127.0.0.1:8080"), allowedHosts: ["app.test"] };
  const cases: [string, string | undefined][] = [
    ["http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"],
    ["/x", "http://127.0.0.1:8080/x"],
    ["http://127.0.0.1:9000/x", undefined],
    ["http://127.0.0.1/x", undefined],
    ["https://127.0.0.1:8080/x", undefined],
    ["http://127.0.0.2:8080/x", undefined],
    ["http://app.test/x", "http://app.test/x"],
    ["https://app.test/x", "https://app.test/x"],
    ["http://app.test:8080/x", undefined],
  ];
  for (const [input, expected] of cases)
    assert.equal(validateRedirectTarget(input, local), expected, input);
});

test("cross-site requests are recognised from Origin and Sec-Fetch-Site", () => {
  const cases: [{ origin?: string; secFetchSite?: string }, boolean][] = [
    [{}, false],
    [{ origin: "https://auth.example.com" }, false],
    [{ origin: "https://app.example.com", secFetchSite: "same-site" }, false],
    [{ secFetchSite: "same-origin" }, false],
    [{ secFetchSite: "cross-site" }, true],
    [{ origin: "https://auth.example.com", secFetchSite: "cross-site" }, true],
    [{ origin: "https://evil.com" }, true],
    [{ origin: "null" }, true],
    // A no-referrer page makes the browser send Origin: null on its own form posts.
    [{ origin: "null", secFetchSite: "same-origin" }, false],
    [{ origin: "not a url" }, true],
    [{ origin: "chrome-extension://abc" }, true],
    // Scheme, host and port: another port or plain http of the same host is another origin.
    [{ origin: "https://auth.example.com:9999" }, true],
    [{ origin: "http://auth.example.com" }, true],
    [{ origin: "http://app.example.com" }, true],
    [{ origin: "https://app.example.com:8443" }, true],
    [{ origin: "https://app.example.com:9999", secFetchSite: "same-site" }, true],
    [{ origin: "https://admin.example.com:8443" }, false],
    [{ origin: "https://admin.example.com" }, true],
    [{ origin: "https://x.apps.example.com" }, false],
  ];
  for (const [headers, expected] of cases)
    assert.equal(isCrossSiteRequest(headers, policy), expected, JSON.stringify(headers));
});
