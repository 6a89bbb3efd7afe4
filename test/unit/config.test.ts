import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, configWarnings, loadConfig } from "../../src/config.ts";
import { isTrustedPeer } from "../../src/security/trusted-proxies.ts";

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
      return (
        /RULES\[0\]\.path/.test(text) &&
        /unknown_key \(GATEHOUSE_CONFIG\): not a setting/.test(text)
      );
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
  assert.match(
    problems({ issuer: base.issuer }),
    /TRUSTED_ISSUERS\[0\]\.audiences: at least one audience/,
  );
  assert.match(problems({ ...base, audiences: [] }), /at least one audience/);
  assert.match(problems({ ...base, issuer: "ftp://idp" }), /http or https/);
  assert.match(problems({ ...base, jwks: "typo" }), /jwks/);
});

test("only loopback proxies are trusted by default; broad ranges are warned about", () => {
  const config = loadConfig({});
  for (const address of ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
    assert.equal(isTrustedPeer(address, config.trusted_proxies), true, address);
  // A client on the LAN, a VPN or in the cluster does not choose its own address.
  for (const address of ["10.0.0.5", "172.16.3.4", "192.168.1.20", "fd00::1"])
    assert.equal(isTrustedPeer(address, config.trusted_proxies), false, address);
  assert.deepEqual(configWarnings(config), []);
  const broad = configWarnings(
    loadConfig({ TRUSTED_PROXIES: "10.0.0.0/8,10.244.1.0/24,fc00::/7,::1" }),
  );
  assert.equal(broad.length, 2);
  assert.match(broad[0] ?? "", /TRUSTED_PROXIES: 10\.0\.0\.0\/8 is a broad range/);
  assert.match(broad[1] ?? "", /fc00::\/7/);
});

test("a configuration problem names the setting by its path, says what was expected and suggests the closest key", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    assert.fail("expected a ConfigError");
  };
  assert.deepEqual(problems({ PORT: "abc" }), ['PORT: expected a number, got "abc"']);
  assert.ok(
    problems({ RULES: "[{host: a.example, acess: public}]" }).includes(
      'RULES[0].acess: not a setting here; did you mean "access"?',
    ),
  );
  assert.deepEqual(problems({ RULES: "[{host: a.example, access: publc}]" }), [
    'RULES[0].access: expected one of public, authenticated, deny, got "publc"; did you mean "public"?',
  ]);
  assert.deepEqual(problems({ OAUTH_PROVIDERS: "[{id: g, type: gogle, client_id: x}]" }), [
    'OAUTH_PROVIDERS[0].type: expected one of oidc, github, google, discord, microsoft-entra-id, gitlab, keycloak, auth0, okta, authentik, gitea, apple, got "gogle"; did you mean "google"?',
  ]);
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-config-"));
  writeFileSync(join(dir, "gatehouse.yaml"), "sesion_max_age: 1d\n");
  assert.deepEqual(problems({ GATEHOUSE_CONFIG: join(dir, "gatehouse.yaml") }), [
    'sesion_max_age (GATEHOUSE_CONFIG): not a setting; did you mean "session_max_age"?',
  ]);
});
