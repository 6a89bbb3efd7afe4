// Branding: the BRAND_* settings on the pages (colours in the one inline
// stylesheet, allowed by its hash; logo, favicon and extra stylesheet
// linked), the brand's files served with caching headers and nothing else
// (no traversal, dotfiles, symbolic links out, other types), page template
// overrides, per-site brands chosen by the request's host, /auth/preview
// (404 unless PREVIEW_PAGES or an admin), the mails' button colour, the
// built-in palettes' contrast, and in Chromium the dark scheme following
// prefers-color-scheme with axe finding no contrast violation.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadBrands, mailColors } from "../../src/branding/brands.ts";
import { contrast, textOn } from "../../src/branding/colors.ts";
import { brandPalette, DARK, LIGHT, type Palette } from "../../src/branding/style.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { pagePolicy } from "../../src/http/auth/guards.ts";
import { translator } from "../../src/i18n/catalogue.ts";
import { loadTemplates } from "../../src/mail/templates.ts";
import { launchChromium } from "../helpers/chromium.ts";
import {
  login,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { freePort } from "../helpers/ports.ts";

const root = mkdtempSync(join(tmpdir(), "gatehouse-branding-"));
const assets = join(root, "assets");
const acmeTemplates = join(root, "acme-templates");
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script><rect width="10" height="10"/></svg>`;
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082",
  "hex",
);
mkdirSync(assets);
mkdirSync(join(assets, "sub"));
mkdirSync(acmeTemplates);
writeFileSync(join(assets, "logo.svg"), SVG);
writeFileSync(join(assets, "fav.png"), PNG);
writeFileSync(join(assets, "extra.css"), "main { border-width: 3px; }");
writeFileSync(join(assets, ".hidden.png"), PNG);
writeFileSync(join(assets, "notes.txt"), "not served");
writeFileSync(join(assets, "sub", "inner.png"), PNG);
writeFileSync(join(root, "outside.png"), PNG);
symlinkSync(join(root, "outside.png"), join(assets, "out.png"));
symlinkSync(join(assets, "fav.png"), join(assets, "alias.png"));
writeFileSync(
  join(acmeTemplates, "layout.html"),
  `<!doctype html>
<html lang="{{locale}}" data-layout="acme"><head><meta charset="utf-8"><title>{{title}} · {{siteName}}</title>
<style>{{{style}}}</style></head>
<body>{{> header}}<main>{{{body}}}</main>{{> footer}}</body></html>`,
);
writeFileSync(
  join(acmeTemplates, "footer.html"),
  `<footer class="brand-footer">Acme footer for {{siteName}}</footer>`,
);

const brandEnv = {
  SITE_NAME: "Example <Corp>",
  BRAND_ASSETS_DIR: assets,
  BRAND_LOGO: "logo.svg",
  BRAND_FAVICON: "fav.png",
  BRAND_STYLESHEET: "extra.css",
  BRAND_PRIMARY_COLOR: "#FFCC00",
  BRAND_BACKGROUND_COLOR: "#102030",
};

/** The inline stylesheets of a page, and whether the page's CSP allows each by its hash. */
function checkStyles(html: string, csp: string, where: string): string {
  assert.ok(!csp.includes("unsafe-inline"), `${where}: no 'unsafe-inline'`);
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] ?? "");
  assert.equal(styles.length, 1, `${where}: one inline stylesheet`);
  const style = styles[0] as string;
  const hash = createHash("sha256").update(style).digest("base64");
  assert.ok(csp.includes(`'sha256-${hash}'`), `${where}: the style's hash is in the CSP`);
  return style;
}

const problems = (env: Record<string, string>): string[] => {
  try {
    loadBrands(loadConfig(env));
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
};

test("bad branding settings stop startup, naming the setting", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { BRAND_PRIMARY_COLOR: "red; } body { display: none" },
      /^BRAND_PRIMARY_COLOR: must be a colour/,
    ],
    [{ BRAND_BACKGROUND_COLOR: "#12345" }, /^BRAND_BACKGROUND_COLOR: must be a colour/],
    [{ BRAND_COLOR_SCHEME: "dim" }, /^BRAND_COLOR_SCHEME: .*auto, light, dark/],
    [
      { BRANDS: "{ acme: { primary_color: 'blue' } }" },
      /^BRANDS\.acme\.primary_color: must be a colour/,
    ],
    [
      { BRANDS: "{ acme: { primary_colour: '#123' } }" },
      /^BRANDS\.acme\.primary_colour: not a setting/,
    ],
    [{ BRANDS: "{ default: {} }" }, /BRANDS\.default.*BRAND_\* settings' brand/],
    [{ BRAND_LOGO: "../logo.svg" }, /^BRAND_LOGO: must be a file name/],
    [
      { BRAND_STYLESHEET: "https://cdn.example/x.css" },
      /^BRAND_STYLESHEET: must be the name of a \.css file/,
    ],
    [
      { BRAND_LOGO: "logo.svg" },
      /^BRAND_LOGO: logo\.svg is a file name, but BRAND_ASSETS_DIR is not set/,
    ],
    [
      { BRAND_ASSETS_DIR: assets, BRAND_LOGO: "missing.png" },
      /^BRAND_LOGO: missing\.png is not a file in/,
    ],
    [{ BRAND_ASSETS_DIR: assets, BRAND_LOGO: "out.png" }, /^BRAND_LOGO: out\.png is not a file in/],
    [{ BRAND_ASSETS_DIR: join(root, "nope") }, /^BRAND_ASSETS_DIR: cannot read/],
    [
      { BRAND_LOGO: "https://elsewhere.example/logo.png" },
      /^BRAND_LOGO: .* is not on the public host/,
    ],
    [
      { SITES: "[{ domain: shop.example, branding: shop }]", BRANDS: "{ other: {} }" },
      /^SITES: shop\.example has branding: shop, which BRANDS does not define \(there are other\)/,
    ],
  ];
  for (const [env, expected] of cases) {
    const found = problems(env);
    assert.ok(
      found.some((problem) => expected.test(problem)),
      `${JSON.stringify(env)}: ${found.join(" | ") || "accepted"}`,
    );
  }
  // A URL on the public host and a path on it are fine: linked as given, allowed by exact URL.
  const env = {
    PUBLIC_URL: "https://auth.example.com",
    BRAND_LOGO: "https://auth.example.com/img/logo.png?size=2",
    BRAND_FAVICON: "/favicon.ico",
  };
  assert.deepEqual(problems(env), []);
  const brand = loadBrands(loadConfig(env)).default;
  assert.deepEqual(brand.links(), {
    logo: "https://auth.example.com/img/logo.png?size=2",
    favicon: "https://auth.example.com/favicon.ico",
  });
  assert.match(
    pagePolicy(brand, []),
    /img-src https:\/\/auth\.example\.com\/img\/logo\.png https:\/\/auth\.example\.com\/favicon\.ico;/,
  );
});

test("page templates: an unknown file or one that does not parse stops startup, naming it", () => {
  const dir = mkdtempSync(join(root, "templates-"));
  writeFileSync(join(dir, "header.html"), "<header>{{siteName}}</header>");
  writeFileSync(join(dir, ".keep"), "");
  assert.deepEqual(problems({ PAGE_TEMPLATES_DIR: dir }), []);
  writeFileSync(join(dir, "heder.html"), "");
  assert.match(
    problems({ PAGE_TEMPLATES_DIR: dir }).join("\n"),
    /^PAGE_TEMPLATES_DIR: .*heder\.html: not a page template; the valid names are layout\.html, header\.html, footer\.html/,
  );
  const broken = mkdtempSync(join(root, "templates-"));
  writeFileSync(join(broken, "footer.html"), "{{#open}} never closed");
  assert.match(
    problems({ PAGE_TEMPLATES_DIR: broken }).join("\n"),
    /footer\.html: Unclosed section/,
  );
  assert.match(
    problems({ BRANDS: `{ acme: { page_templates_dir: "${broken}" } }` }).join("\n"),
    /^BRANDS\.acme\.page_templates_dir: .*footer\.html/,
  );
  // As main.ts starts: exit 2 and the file named, before anything listens.
  const started = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "--check-config"],
    {
      env: { ...process.env, PAGE_TEMPLATES_DIR: broken, LOG_LEVEL: "silent" },
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  assert.equal(started.status, 2, started.stderr);
  assert.match(started.stderr, /PAGE_TEMPLATES_DIR: .*footer\.html: Unclosed section/);
});

test("the built-in palettes and any primary colour keep text at WCAG AA contrast", () => {
  const pairs = (p: Palette): [string, string, string][] => [
    ["text on card", p.text, p.card],
    ["muted on card", p.muted, p.card],
    ["on-bg on bg", p["on-bg"], p.bg],
    ["link on card", p.link, p.card],
    ["link on notice", p.link, p["notice-bg"]],
    ["text on notice", p.text, p["notice-bg"]],
    ["error on error-bg", p.error, p["error-bg"]],
    ["error on card", p.error, p.card],
    ["accent-text on accent", p["accent-text"], p.accent],
    ["text on input", p.text, p["input-bg"]],
  ];
  const primaries = [
    "#ffcc00",
    "#000000",
    "#ffffff",
    "#2b59c3",
    "#e4002b",
    "#00a19a",
    "#777777",
    "#0b7a3e",
  ];
  for (const [scheme, base] of [
    ["light", LIGHT],
    ["dark", DARK],
  ] as const) {
    for (const colors of [{}, ...primaries.map((primary) => ({ primary, background: primary }))]) {
      for (const [what, fg, bg] of pairs(brandPalette(base, colors))) {
        const ratio = contrast(fg, bg);
        assert.ok(
          ratio >= 4.5,
          `${scheme} ${JSON.stringify(colors)}: ${what} ${fg}/${bg} is ${ratio.toFixed(2)}`,
        );
      }
    }
  }
  assert.equal(textOn("#ffcc00"), "#000000");
  assert.equal(textOn("#2b59c3"), "#ffffff");
});

const english = translator("en");

test("mails: the button wears the default brand's colour; overrides still work", () => {
  const built = loadTemplates(undefined, mailColors({ brand_primary_color: "#ffcc00" }));
  const message = built.render(
    "verify-email",
    {
      siteName: "Acme",
      email: "a@example.com",
      link: "https://auth.example.com/x",
      expiresIn: "24 hours",
    },
    "en",
    english,
  );
  assert.match(message.html, /background: #ffcc00; color: #000000/);
  const plain = loadTemplates().render(
    "verify-email",
    {
      siteName: "Acme",
      email: "a@example.com",
      link: "https://auth.example.com/x",
      expiresIn: "24 hours",
    },
    "en",
    english,
  );
  assert.match(plain.html, /background: #2b59c3; color: #ffffff/);
  const dir = mkdtempSync(join(root, "mail-"));
  writeFileSync(
    join(dir, "verify-email.html"),
    `<a style="color: {{buttonColor}}">{{siteName}}</a>`,
  );
  const override = loadTemplates(dir, mailColors({ brand_primary_color: "#0b7a3e" }));
  assert.equal(
    override.render(
      "verify-email",
      { siteName: "Acme", email: "a@example.com", link: "https://x.example/y", expiresIn: "1 day" },
      "en",
      english,
    ).html,
    `<a style="color: #0b7a3e">Acme</a>`,
  );
});

describe("branded pages over HTTP", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let port: number;
  let shop: string;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    port = await freePort();
    shop = `shop.test:${port}`;
    server = await startGatehouse(
      database,
      {
        ...brandEnv,
        SITES: `[{ domain: "127.0.0.1:${port}" }, { domain: "${shop}", branding: acme }]`,
        BRANDS: `{ acme: { name: Acme Shop, primary_color: "#0b7a3e", color_scheme: dark, page_templates_dir: "${acmeTemplates}" } }`,
      },
      { port },
    );
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });
  const base = () => server.url;
  const page = (path: string, headers: Record<string, string> = {}) =>
    server.gatehouse.app.request(`http://127.0.0.1:${port}${path}`, {
      headers: { host: `127.0.0.1:${port}`, ...headers },
    });

  test("the settings are on the page: colours in the one stylesheet, logo, favicon and stylesheet linked", async () => {
    const response = await fetch(`${base()}/auth/login`);
    assert.equal(response.status, 200);
    const html = await response.text();
    const csp = response.headers.get("content-security-policy") ?? "";
    const style = checkStyles(html, csp, "login");
    assert.match(style, /--gh-accent: #ffcc00;/);
    assert.match(style, /--gh-accent-text: #000000;/, "dark text on a light primary colour");
    assert.match(style, /--gh-bg: #102030;/);
    assert.match(style, /--gh-on-bg: #ffffff;/, "light text on a dark background");
    assert.match(style, /@media \(prefers-color-scheme: dark\)/, "auto follows the browser");
    assert.match(html, /<link rel="icon" href="\/auth\/brand\/default\/fav\.png\?v=[\w-]{16}">/);
    assert.match(html, /<img src="\/auth\/brand\/default\/logo\.svg\?v=[\w-]{16}" alt="">/);
    assert.match(
      html,
      /<\/style>\n<link rel="stylesheet" href="\/auth\/brand\/default\/extra\.css\?v=[\w-]{16}">/,
    );
    assert.match(html, /<span>Example &lt;Corp&gt;<\/span>/, "the name, escaped, above the card");
    assert.match(html, /<h1>Sign in to Example &lt;Corp&gt;<\/h1>/);
    assert.match(csp, /img-src 'self'(;|$)/);
    assert.match(csp, /font-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self' 'sha256-[^']+'(;|$)/);
    assert.match(csp, /default-src 'none'/);
  });

  test("the brand's files: right type, long caching with the link's hash, 304, nosniff, SVG without scripts", async () => {
    const html = await (await fetch(`${base()}/auth/login`)).text();
    const href = (name: string) =>
      new RegExp(`"(/auth/brand/default/${name.replace(".", "\\.")}\\?v=[\\w-]+)"`).exec(
        html,
      )?.[1] as string;
    const logo = await fetch(`${base()}${href("logo.svg")}`);
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get("content-type"), "image/svg+xml");
    assert.equal(
      logo.headers.get("content-security-policy"),
      "default-src 'none'; style-src 'unsafe-inline'",
    );
    assert.equal(logo.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(logo.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await logo.text(), SVG);
    const etag = logo.headers.get("etag") as string;
    assert.match(etag, /^"[\w-]{16}"$/);
    const again = await fetch(`${base()}${href("logo.svg")}`, {
      headers: { "if-none-match": etag },
    });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("etag"), etag);
    assert.equal(await again.text(), "");
    const favicon = await fetch(`${base()}${href("fav.png")}`);
    assert.equal(favicon.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await favicon.arrayBuffer()), PNG);
    const css = await fetch(`${base()}${href("extra.css")}`);
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    // Without the current hash (an old link, or none): cached briefly.
    const stale = await fetch(`${base()}/auth/brand/default/extra.css?v=old`);
    assert.equal(stale.headers.get("cache-control"), "public, max-age=300");
    // A link inside the folder is followed; the head of a GET works too.
    assert.equal((await fetch(`${base()}/auth/brand/default/alias.png`)).status, 200);
    const head = await fetch(`${base()}/auth/brand/default/fav.png`, { method: "HEAD" });
    assert.equal(head.status, 200);
  });

  test("anything else under /auth/brand is a 404: traversal, dotfiles, links out, folders, other types, other brands", async () => {
    for (const path of [
      "/auth/brand/default/.hidden.png",
      "/auth/brand/default/..%2Foutside.png",
      "/auth/brand/default/%2e%2e%2foutside.png",
      "/auth/brand/default/..%5Coutside.png",
      "/auth/brand/default/out.png",
      "/auth/brand/default/sub",
      "/auth/brand/default/sub%2Finner.png",
      "/auth/brand/default/missing.png",
      "/auth/brand/default/notes.txt",
      "/auth/brand/default/logo.svg%00.png",
      "/auth/brand/nope/logo.svg",
      "/auth/brand/default/sub/inner.png",
    ]) {
      const response = await page(path);
      assert.equal(response.status, 404, path);
      assert.doesNotMatch(await response.text(), /PNG|<svg/, path);
    }
    const traversal = await fetch(`${base()}/auth/brand/default/../../../etc/passwd`);
    assert.equal(traversal.status, 404);
  });

  test("per-site brands: a satellite's pages, and the home's pages signing in for it, wear its brand", async () => {
    const own = await (await page("/auth/login")).text();
    assert.match(own, /Sign in to Example &lt;Corp&gt;/);
    assert.doesNotMatch(own, /data-layout="acme"/);
    for (const rd of [
      `http://${shop}/orders`,
      `http://127.0.0.1:${port}/auth/sites/authorize?host=${shop}&state=x&rd=http%3A%2F%2F${shop}%2F`,
    ]) {
      const response = await page(`/auth/login?rd=${encodeURIComponent(rd)}`);
      const html = await response.text();
      assert.match(html, /data-layout="acme"/, rd);
      assert.match(html, /Sign in to Acme Shop/, rd);
      assert.match(html, /<footer class="brand-footer">Acme footer for Acme Shop<\/footer>/, rd);
      const style = checkStyles(html, response.headers.get("content-security-policy") ?? "", rd);
      assert.match(style, /color-scheme: dark;/);
      assert.match(style, /--gh-accent: #0b7a3e;/);
    }
    // On the satellite's own host: its refusal page is its brand's.
    const satellite = await server.gatehouse.app.request(
      `http://${shop}/auth/sites/start?rd=${encodeURIComponent("https://evil.example/")}`,
      { headers: { host: shop } },
    );
    assert.equal(satellite.status, 400);
    const html = await satellite.text();
    assert.match(html, /data-layout="acme"/);
    checkStyles(html, satellite.headers.get("content-security-policy") ?? "", "satellite refusal");
  });

  test("/auth/preview is a 404 for the signed out and non-admins; an admin sees every state", async () => {
    assert.equal((await page("/auth/preview")).status, 404);
    assert.equal((await page("/auth/preview/login")).status, 404);
    const member = await register(base(), uniqueEmail("member"));
    assert.equal((await page("/auth/preview", { cookie: member })).status, 404);
    const email = uniqueEmail("admin");
    await register(base(), email);
    const [row] = (await server.gatehouse.directory.list({ q: email, limit: 1 })).users;
    await server.gatehouse.users.setRoles(row?.id as string, ["admin"]);
    const cookie = (await login(base(), email)).headers.getSetCookie()[0]?.split(";")[0] as string;
    const index = await page("/auth/preview", { cookie });
    assert.equal(index.status, 200);
    const html = await index.text();
    const links = [...html.matchAll(/href="(\/auth\/preview\/[a-z-]+)"/g)].map(
      (m) => m[1] as string,
    );
    assert.ok(links.length >= 20, `${links.length} states`);
    for (const link of links) {
      const response = await page(link, { cookie });
      assert.equal(response.status, 200, link);
      checkStyles(
        await response.text(),
        response.headers.get("content-security-policy") ?? "",
        link,
      );
    }
    const acme = await page("/auth/preview/login-error?brand=acme", { cookie });
    const acmeHtml = await acme.text();
    assert.match(acmeHtml, /data-layout="acme"/);
    assert.match(
      checkStyles(acmeHtml, acme.headers.get("content-security-policy") ?? "", "acme"),
      /#0b7a3e/,
    );
    const unknown = await page("/auth/preview?brand=nope", { cookie, accept: "application/json" });
    assert.equal(unknown.status, 404);
    assert.match(
      JSON.stringify(await unknown.json()),
      /No brand named \\"nope\\"; there are default, acme/,
    );
    assert.equal((await page("/auth/preview/nothing", { cookie })).status, 404);
  });
});

describe("in Chromium: the colour scheme and contrast", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const axeSource = readFileSync(
    createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
    "utf8",
  );
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, {
      PREVIEW_PAGES: "true",
      BRAND_PRIMARY_COLOR: "#ffcc00",
      BRANDS: `{ night: { primary_color: "#e4002b", color_scheme: dark }, day: { color_scheme: light }, plain: {} }`,
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await database?.close();
  });

  test("auto follows prefers-color-scheme; light and dark hold; axe finds no contrast violation", async () => {
    // The page's CSP forbids inline scripts (axe is injected), nothing else is relaxed.
    const context = await browser.newContext({ bypassCSP: true });
    try {
      const tab = await context.newPage();
      const look = async (path: string, scheme: "light" | "dark") => {
        await tab.emulateMedia({ colorScheme: scheme });
        const response = await tab.goto(`${server.url}${path}`);
        assert.equal(response?.status(), 200, path);
        await tab.addScriptTag({ content: axeSource });
        const violations = await tab.evaluate(async () => {
          // biome-ignore lint/suspicious/noExplicitAny: axe is injected into the page
          const result = await (window as any).axe.run(document, {
            runOnly: { type: "rule", values: ["color-contrast"] },
          });
          // biome-ignore lint/suspicious/noExplicitAny: axe's result shape
          return result.violations.map((v: any) => v.nodes.map((n: any) => n.failureSummary));
        });
        assert.deepEqual(violations, [], `${path} in ${scheme}`);
        return tab.evaluate(() => getComputedStyle(document.body).backgroundColor);
      };
      for (const state of [
        "login-error",
        "login-notice",
        "account",
        "passkeys",
        "mfa-step-up-error",
        "totp-setup",
        "admin-user",
        "link-broken",
      ]) {
        assert.equal(await look(`/auth/preview/${state}`, "light"), "rgb(245, 246, 248)");
        assert.equal(await look(`/auth/preview/${state}`, "dark"), "rgb(15, 18, 24)");
        assert.equal(await look(`/auth/preview/${state}?brand=night`, "light"), "rgb(15, 18, 24)");
        assert.equal(await look(`/auth/preview/${state}?brand=day`, "dark"), "rgb(245, 246, 248)");
        // The built-in colours, nothing configured.
        assert.equal(await look(`/auth/preview/${state}?brand=plain`, "dark"), "rgb(15, 18, 24)");
        assert.equal(
          await look(`/auth/preview/${state}?brand=plain`, "light"),
          "rgb(245, 246, 248)",
        );
      }
    } finally {
      await context.close();
    }
  });
});
