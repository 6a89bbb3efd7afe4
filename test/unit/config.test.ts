import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.ts";

test("defaults run on the embedded database with development cookies", () => {
  const config = loadConfig({});
  assert.equal(config.port, 4180);
  assert.equal(config.public_url.origin, "http://localhost:4180");
  assert.equal(config.database_url, undefined);
  assert.equal(config.session_cookie, "gatehouse_session");
  assert.equal(config.secure_cookies, false);
  assert.equal(config.default_access, "authenticated");
  assert.equal(config.session_idle_timeout, 7 * 86400);
});

test("https public URLs get __Host- cookies, or __Secure- with a cookie domain", () => {
  assert.equal(
    loadConfig({ PUBLIC_URL: "https://auth.example.com" }).session_cookie,
    "__Host-gatehouse_session",
  );
  const shared = loadConfig({
    PUBLIC_URL: "https://auth.example.com",
    COOKIE_DOMAIN: ".Example.com",
  });
  assert.equal(shared.session_cookie, "__Secure-gatehouse_session");
  assert.equal(shared.cookie_domain, "example.com");
});

test("lists come from comma-separated variables", () => {
  const config = loadConfig({
    IDENTITY_HEADERS: "user-id, email",
    ALLOWED_REDIRECT_HOSTS: "App.example.com,*.example.org",
  });
  assert.deepEqual(config.identity_headers, ["user-id", "email"]);
  assert.deepEqual(config.allowed_redirect_hosts, ["app.example.com", "*.example.org"]);
  assert.throws(() => loadConfig({ IDENTITY_HEADERS: "user-id,password" }), /IDENTITY_HEADERS/);
});

test("every problem is reported at once, naming the setting", () => {
  try {
    loadConfig({
      PORT: "http",
      PUBLIC_URL: "ftp://x",
      SESSION_IDLE_TIMEOUT: "soon",
      TRUSTED_PROXIES: "10.0.0.0/99",
      DATABASE_URL: "mysql://x",
    });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join("\n");
    for (const name of [
      "PORT",
      "PUBLIC_URL",
      "SESSION_IDLE_TIMEOUT",
      "TRUSTED_PROXIES",
      "DATABASE_URL",
    ]) {
      assert.match(text, new RegExp(`^${name}:`, "m"), name);
    }
  }
});

test("the YAML file carries rules; the environment overrides it", () => {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-config-"));
  const file = join(dir, "gatehouse.yaml");
  writeFileSync(
    file,
    "port: 9000\nsite_name: Example\nrules:\n  - path: /public/**\n    access: public\n  - host: admin.example.com\n    roles: [admin]\n",
  );
  const config = loadConfig({ GATEHOUSE_CONFIG: file, PORT: "9100" });
  assert.equal(config.port, 9100);
  assert.equal(config.site_name, "Example");
  assert.equal(config.rules.length, 2);
  writeFileSync(file, "rules:\n  - path: nope\n    access: public\nunknown_key: 1\n");
  assert.throws(
    () => loadConfig({ GATEHOUSE_CONFIG: file }),
    (error: ConfigError) => {
      const text = error.problems.join("\n");
      return /RULES \(0\.path/.test(text) && /unknown_key/.test(text);
    },
  );
  assert.throws(() => loadConfig({ GATEHOUSE_CONFIG: join(dir, "missing.yaml") }), /cannot read/);
});

test("RULES and TRUSTED_ISSUERS can be given in the environment as YAML", () => {
  const config = loadConfig({
    RULES: "- path: /open/**\n  access: public",
    TRUSTED_ISSUERS: "[{issuer: 'https://idp.example.com', audiences: api}]",
  });
  assert.equal(config.rules.length, 1);
  const [issuer] = config.trusted_issuers;
  assert.deepEqual(issuer?.audiences, ["api"]);
  assert.deepEqual(issuer?.algorithms, ["RS256", "ES256", "EdDSA"]);
  assert.equal(issuer?.clock_tolerance, 10);
  assert.throws(() => loadConfig({ RULES: "- [unclosed" }), /RULES: not valid YAML/);
});

test("trusted issuers cannot allow none or HMAC, and need an audience", () => {
  const problems = (issuer: Record<string, unknown>) => {
    try {
      loadConfig({ TRUSTED_ISSUERS: JSON.stringify([issuer]) });
      return "";
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
  };
  const base = { issuer: "https://idp.example.com", audiences: ["api"] };
  assert.equal(problems(base), "");
  assert.match(problems({ ...base, algorithms: ["none"] }), /never none or HS/);
  assert.match(problems({ ...base, algorithms: ["HS256"] }), /never none or HS/);
  assert.match(problems({ issuer: base.issuer }), /TRUSTED_ISSUERS \(0\.audiences\)/);
  assert.match(problems({ ...base, audiences: [] }), /at least one audience/);
  assert.match(problems({ ...base, issuer: "ftp://idp" }), /http or https/);
  assert.match(problems({ ...base, jwks: "typo" }), /jwks/);
});
