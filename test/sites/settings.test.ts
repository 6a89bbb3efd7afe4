// SITES, validated (every problem named at start), the table the resolver
// and the hop read (hosts to sites, cookies), and the shipped multi-site
// proxy examples: they load, route /auth on every domain, and copy exactly
// the headers gatehouse sends.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { ConfigError, configWarnings, loadConfig } from "../../src/config.ts";
import { IDENTITY_CLAIMS } from "../../src/resolve/rules.ts";
import { isAllowedOrigin } from "../../src/security/redirect-target.ts";
import { sessionCookieNames } from "../../src/sites/cookies.ts";
import { siteOf } from "../../src/sites/sites.ts";

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
};

test("SITES: each mistake is named", () => {
  const home = { PUBLIC_URL: "https://auth.example.com" };
  assert.match(
    problems({ ...home, SITES: "[{ domain: 'shop example' }]" }).join("\n"),
    /SITES\[0\]\.domain: must be a domain/,
  );
  assert.match(
    problems({ ...home, SITES: "[{ domain: '*.shop.example' }]" }).join("\n"),
    /must be a domain/,
  );
  assert.match(
    problems({ ...home, SITES: "[{ domain: shop.example, colour: red }]" }).join("\n"),
    /colour/,
  );
  assert.match(
    problems({
      ...home,
      SITES: "[{ domain: shop.example, cookie_domain: true }, { domain: a.shop.example }]",
    }).join("\n"),
    /overlap/,
  );
  assert.match(
    problems({ ...home, SITES: "[{ domain: example.com, cookie_domain: true }]" }).join("\n"),
    /COOKIE_DOMAIN must be example\.com/,
  );
  assert.match(problems({ ...home, SITES: "{ domain: shop.example }" }).join("\n"), /SITES/);
  assert.match(
    problems({ ...home, SITES: "[{ domain: shop.example" }).join("\n"),
    /SITES: not valid YAML/,
  );
  // The home cookie's Domain would reach a satellite under it: one site, not two.
  assert.match(
    problems({
      ...home,
      COOKIE_DOMAIN: "example.com",
      SITES: "[{ domain: shop.example.com }]",
    }).join("\n"),
    /example\.com and shop\.example\.com overlap/,
  );
  assert.deepEqual(
    problems({
      ...home,
      SITES: "[{ domain: shop.example, name: Shop, branding: shop-blue }]",
      BRANDS: "{ shop-blue: { primary_color: '#1f4fa3' } }",
    }),
    [],
  );
});

test("check-config warns when ALLOWED_REDIRECT_HOSTS sits beside SITES", () => {
  const config = loadConfig({
    PUBLIC_URL: "https://auth.example.com",
    SITES: "[{ domain: shop.example }]",
    ALLOWED_REDIRECT_HOSTS: "legacy.example",
  });
  assert.match(
    configWarnings(config).join("\n"),
    /ALLOWED_REDIRECT_HOSTS with SITES.*legacy\.example/,
  );
  assert.deepEqual(configWarnings(loadConfig({ SITES: "[{ domain: shop.example }]" })), []);
});

test("the site table: hosts to sites, the home implicit, cookies by the home cookie's rules", () => {
  const config = loadConfig({
    PUBLIC_URL: "https://auth.example.com",
    COOKIE_DOMAIN: "example.com",
    SITES:
      "[{ domain: Shop.Example., name: Shop, branding: blue }, { domain: client.io, cookie_domain: true }, { domain: 'dev.test:8443' }]",
    BRANDS: "{ blue: {} }",
  });
  const table = config.sites;
  assert.equal(siteOf(table, "auth.example.com")?.home, true);
  assert.equal(
    siteOf(table, "www.example.com")?.home,
    true,
    "COOKIE_DOMAIN covers the home's subdomains",
  );
  assert.equal(siteOf(table, "shop.example")?.branding, "blue");
  assert.equal(siteOf(table, "shop.example:443")?.domain, "shop.example");
  assert.equal(siteOf(table, "a.shop.example"), undefined, "an exact host covers no subdomain");
  assert.equal(siteOf(table, "app.client.io")?.domain, "client.io");
  assert.equal(siteOf(table, "evilclient.io"), undefined);
  assert.equal(siteOf(table, "dev.test:8443")?.domain, "dev.test:8443");
  assert.equal(siteOf(table, "dev.test"), undefined, "another port is another site");
  assert.deepEqual(sessionCookieNames(config).sort(), [
    "__Host-gatehouse_session",
    "__Secure-gatehouse_session",
  ]);
  const policy = { publicUrl: config.public_url, allowedHosts: [], sites: table };
  assert.equal(isAllowedOrigin(new URL("https://shop.example/x"), policy), true);
  assert.equal(isAllowedOrigin(new URL("http://shop.example/x"), policy), false, "not on http");
  assert.equal(isAllowedOrigin(new URL("https://shop.example.evil.net/"), policy), false);
});

const HEADERS = [...IDENTITY_CLAIMS.map((claim) => `x-auth-${claim}`), "x-auth-anonymous"].sort();
const lower = (names: string[]) => names.map((name) => name.toLowerCase()).sort();

test("the Kubernetes example: two Ingresses on two domains, one gatehouse, /auth on each", () => {
  const docs = parseAllDocuments(readFileSync("deploy/kubernetes/sites.yaml", "utf8")).map((doc) =>
    doc.toJS(),
  );
  const protectedOnes = docs.filter(
    (doc) => doc.metadata.annotations?.["nginx.ingress.kubernetes.io/auth-url"],
  );
  assert.equal(protectedOnes.length, 2);
  const hosts = protectedOnes.map((doc) => doc.spec.rules[0].host);
  assert.equal(new Set(hosts).size, 2);
  assert.equal(
    new Set(
      protectedOnes.map((doc) => doc.metadata.annotations["nginx.ingress.kubernetes.io/auth-url"]),
    ).size,
    1,
    "one gatehouse",
  );
  for (const doc of protectedOnes) {
    const notes = doc.metadata.annotations;
    assert.equal(
      notes["nginx.ingress.kubernetes.io/auth-signin"],
      "https://$host/auth/sites/start",
    );
    assert.deepEqual(
      lower(notes["nginx.ingress.kubernetes.io/auth-response-headers"].split(",")),
      HEADERS,
    );
  }
  const gatehouse = docs.find((doc) => doc.metadata.name === "gatehouse-sites");
  for (const host of hosts) {
    const rule = gatehouse.spec.rules.find((one: { host: string }) => one.host === host);
    assert.equal(rule?.http.paths[0].path, "/auth", host);
  }
  const settings = /^# {3}public_url: (.+)\n# {3}sites:\n((?:# {5}- .+\n)+)/m.exec(
    readFileSync("deploy/kubernetes/sites.yaml", "utf8"),
  );
  const sites = settings?.[2]?.replaceAll(/^# {5}/gm, "") ?? "";
  const config = loadConfig({ PUBLIC_URL: settings?.[1] as string, SITES: sites });
  for (const host of hosts) assert.equal(siteOf(config.sites, host)?.home, false, host);
});

test("the nginx, Caddy and Traefik multi-site examples copy gatehouse's headers and route /auth on every domain", () => {
  const nginx = readFileSync("deploy/nginx/gatehouse-sites.conf", "utf8");
  assert.deepEqual(
    lower(
      [...nginx.matchAll(/\$upstream_http_(x_auth_\w+)/g)].map((m) =>
        (m[1] as string).replaceAll("_", "-"),
      ),
    ),
    HEADERS,
  );
  assert.match(
    nginx,
    /include \/etc\/nginx\/snippets\/gatehouse-auth\.conf;/,
    "the snippet routes /auth/",
  );
  const caddy = readFileSync("deploy/caddy/Caddyfile.sites", "utf8");
  assert.deepEqual(lower(/copy_headers (.+)/.exec(caddy)?.[1]?.split(" ") ?? []), HEADERS);
  const adapted = execFileSync(
    "caddy",
    ["adapt", "--config", "deploy/caddy/Caddyfile.sites", "--adapter", "caddyfile"],
    { encoding: "utf8", env: { ...process.env, HOME: tmpdir() } },
  );
  for (const port of ["3001", "3002", "3003"])
    assert.ok(adapted.includes(`127.0.0.1:${port}`), port);
  const traefik = parse(readFileSync("deploy/traefik/sites.yml", "utf8")).http.routers;
  const appHosts = Object.values(
    traefik as Record<string, { rule: string; middlewares?: string[] }>,
  )
    .filter((router) => router.middlewares?.includes("gatehouse"))
    .map((router) => /Host\(`([^`]+)`\)/.exec(router.rule)?.[1]);
  assert.equal(appHosts.length, 2);
  for (const host of appHosts)
    assert.ok(
      traefik["gatehouse-pages-all-sites"].rule.includes(`Host(\`${host}\`)`),
      `${host} routes /auth/`,
    );
});
