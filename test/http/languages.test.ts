// The hosted pages and mails in the visitor's language: chosen by the locale
// cookie (the selector on every page), then Accept-Language, then
// DEFAULT_LOCALE; LOCALES_DIR adds a language or replaces a string; a
// signed-in user's choice is stored, and their mail is written in it.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { simpleParser } from "mailparser";
import { ConfigError } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { returnPathUnder } from "../../src/http/auth/locale.ts";
import { loadLanguages } from "../../src/i18n/languages.ts";
import { loadTemplates } from "../../src/mail/templates.ts";
import {
  bodyOf,
  GOOD_PASSWORD,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm, postJson } from "../helpers/http.ts";

/** The sign-in page's heading in each shipped language. */
const HEADINGS = {
  en: "Sign in to gatehouse",
  de: "Bei gatehouse anmelden",
  fr: "Se connecter à gatehouse",
  es: "Iniciar sesión en gatehouse",
} as const;

const loginPage = (base: string, headers: Record<string, string>) =>
  fetch(`${base}/auth/login`, { headers }).then((response) => response.text());

/** The one mail for `to` in the outbox (written there without SMTP_URL), parsed. */
async function mailTo(outbox: string, to: string, kind: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const name of readdirSync(outbox).filter((file) => file.includes(`-${kind}-`))) {
      const mail = await simpleParser(readFileSync(join(outbox, name)));
      if (mail.text?.includes(to) || mail.html?.toString().includes(to)) return mail;
    }
    if (Date.now() > deadline) throw new Error(`no ${kind} mail for ${to}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("languages", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  const outbox = mkdtempSync(join(tmpdir(), "gatehouse-languages-outbox-"));
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, { OUTBOX_DIR: outbox });
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("the sign-in page in each shipped language, by Accept-Language and by the cookie, which wins", async () => {
    for (const [locale, heading] of Object.entries(HEADINGS)) {
      const byHeader = await loginPage(server.url, { "accept-language": `${locale};q=0.9, xx` });
      assert.match(byHeader, new RegExp(`<html lang="${locale}">`));
      assert.ok(byHeader.includes(heading), `${locale}: ${heading}`);
      const byCookie = await loginPage(server.url, {
        cookie: `gatehouse_locale=${locale}`,
        "accept-language": locale === "de" ? "fr" : "de",
      });
      assert.ok(byCookie.includes(heading), `cookie ${locale}`);
      // The selector names every language in itself, with this one selected.
      assert.match(byCookie, new RegExp(`<option value="${locale}" lang="${locale}" selected>`));
      for (const name of ["English", "Deutsch", "Français", "Español"])
        assert.ok(byCookie.includes(`>${name}</option>`), name);
    }
    assert.ok((await loginPage(server.url, { "accept-language": "de-AT" })).includes(HEADINGS.de));
    assert.ok((await loginPage(server.url, { "accept-language": "pt-BR" })).includes(HEADINGS.en));
  });

  test("the selector sets the cookie and sends the browser back to the page it came from", async () => {
    const back = "/auth/register?rd=https%3A%2F%2Fapp.example.test%2F";
    const chosen = await fetch(
      `${server.url}/auth/locale`,
      postForm({ locale: "fr", return: back }),
    );
    assert.equal(chosen.status, 303);
    assert.equal(chosen.headers.get("location"), back);
    const cookie = chosen.headers.getSetCookie().find((c) => c.startsWith("gatehouse_locale="));
    assert.ok(cookie, "the locale cookie is set");
    assert.match(cookie, /^gatehouse_locale=fr;/);
    assert.match(cookie, /Max-Age=31536000/);
    assert.match(cookie, /Path=\//);
    assert.match(cookie, /SameSite=Lax/);
    const page = await fetch(`${server.url}${back}`, {
      headers: { cookie: "gatehouse_locale=fr" },
    });
    assert.match(await page.text(), /Créez votre compte/);
    // The return path keeps an acceptable rd, and never carries a refused one.
    const withRd = (rd: string) =>
      fetch(`${server.url}/auth/login?rd=${encodeURIComponent(rd)}`).then((r) => r.text());
    assert.ok(
      (await withRd(`${server.url}/after`)).includes(
        `name="return" value="/auth/login?rd=${encodeURIComponent(`${server.url}/after`)}"`,
      ),
    );
    const refused = await withRd("https://evil.example/x");
    assert.ok(!refused.includes("evil.example"), "a refused rd is not carried");
    assert.match(refused, /name="return" value="\/auth\/login"/);
    // The form on every page carries this page as its return path.
    assert.match(
      await loginPage(server.url, {}),
      /<form method="post" action="\/auth\/locale">\s*<input type="hidden" name="return" value="\/auth\/login">/,
    );
  });

  test("a return path that is not a page under the prefix lands on the sign-in page", async () => {
    const hostile = [
      "//evil.example/auth/login",
      "https://evil.example/auth/login",
      "http:/evil.example/auth",
      "/\\evil.example/auth",
      "\\\\evil.example",
      "/auth/../admin",
      "/auth/%2e%2e/x",
      "/auth/..%2f..%2fx",
      "/auth%2flogin",
      "/authx",
      "/elsewhere",
      "javascript:alert(1)",
      "/auth/login\r\nSet-Cookie: x=1",
      " /auth/login",
      "",
    ];
    for (const value of hostile) {
      const answer = await fetch(
        `${server.url}/auth/locale`,
        postForm({ locale: "de", return: value }),
      );
      assert.equal(answer.status, 303, JSON.stringify(value));
      assert.equal(answer.headers.get("location"), "/auth/login", JSON.stringify(value));
      assert.equal(returnPathUnder("/auth", value), undefined, JSON.stringify(value));
    }
    assert.equal(returnPathUnder("/auth", "/auth/account"), "/auth/account");
    assert.equal(returnPathUnder("/auth", "/auth/./account?x=1"), "/auth/account?x=1");
    assert.equal(returnPathUnder("/auth", "/auth"), "/auth");
  });

  test("an unknown language is a 400 with a message, and sets nothing", async () => {
    for (const locale of ["xx", "", "de;", "../en"]) {
      const page = await fetch(
        `${server.url}/auth/locale`,
        postForm({ locale, return: "/auth/login" }),
      );
      assert.equal(page.status, 400, locale);
      assert.match(await page.text(), /This language is not available here/);
      assert.deepEqual(page.headers.getSetCookie(), []);
    }
    const json = await fetch(`${server.url}/auth/locale`, postJson({ locale: "xx" }));
    assert.equal(json.status, 400);
    assert.equal((await bodyOf(json)).error.code, "invalid_request");
    const crossSite = await fetch(`${server.url}/auth/locale`, {
      ...postForm({ locale: "de", return: "/auth/login" }),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "cross-site",
      },
    });
    assert.equal(crossSite.status, 403);
    assert.deepEqual(crossSite.headers.getSetCookie(), []);
  });

  test("errors on pages are in the page's language; the JSON answer stays English", async () => {
    const wrong = { email: uniqueEmail("nobody"), password: "not the right one at all" };
    const page = await fetch(`${server.url}/auth/login`, {
      ...postForm(wrong),
      headers: { ...postForm(wrong).headers, "accept-language": "de" },
    });
    assert.equal(page.status, 401);
    assert.match(await page.text(), /E-Mail-Adresse oder Passwort ist falsch\./);
    const json = await fetch(`${server.url}/auth/login`, {
      ...postJson(wrong),
      headers: { "content-type": "application/json", "accept-language": "de" },
    });
    assert.equal((await bodyOf(json)).error.message, "Invalid email or password.");
    const english = await fetch(`${server.url}/auth/login`, postForm(wrong));
    assert.match(await english.text(), /Invalid email or password\./);
  });

  test("a user registers in French, switches to German when signed in, and their mail follows", async () => {
    const email = uniqueEmail("polyglot");
    const registered = await fetch(`${server.url}/auth/register`, {
      ...postJson({ email, password: GOOD_PASSWORD }),
      headers: { "content-type": "application/json", "accept-language": "fr" },
    });
    assert.equal(registered.status, 201);
    const cookie = (registered.headers.getSetCookie()[0] ?? "").split(";")[0] as string;
    const verify = await mailTo(outbox, email, "verify-email");
    assert.equal(verify.subject, "Confirmez votre adresse e-mail pour gatehouse");
    assert.match(verify.text ?? "", /Veuillez confirmer que/);
    const stored = async () =>
      (await server.gatehouse.database.db.select().from(users).where(eq(users.email, email)))[0]
        ?.locale;
    assert.equal(await stored(), "fr");

    const switched = await fetch(
      `${server.url}/auth/locale`,
      postForm({ locale: "de", return: "/auth/account" }, cookie),
    );
    assert.equal(switched.status, 303);
    assert.equal(switched.headers.get("location"), "/auth/account");
    assert.equal(await stored(), "de");

    // Asked for by an English page: the stored language wins.
    const asked = await fetch(`${server.url}/auth/forgot-password`, {
      ...postJson({ email }),
      headers: { "content-type": "application/json", "accept-language": "en" },
    });
    assert.equal(asked.status, 202);
    const reset = await mailTo(outbox, email, "reset-password");
    assert.equal(reset.subject, "Setzen Sie Ihr Passwort für gatehouse zurück");
    assert.match(reset.text ?? "", /Der Link funktioniert einmal, für 30 Minuten\./);
    assert.match(reset.html?.toString() ?? "", /Neues Passwort wählen/);
  });

  test("the account page writes dates in its language, as <time> in UTC", async () => {
    const email = uniqueEmail("dates");
    const cookie = await register(server.url, email);
    const page = await fetch(`${server.url}/auth/account`, {
      headers: { cookie: `${cookie}; gatehouse_locale=de` },
    });
    const text = await page.text();
    assert.match(text, /<h1>Ihr Konto<\/h1>/);
    const year = new Date().getUTCFullYear();
    assert.match(
      text,
      new RegExp(
        `<time datetime="${year}-\\d\\d-\\d\\dT[^"]+Z" data-local>[^<]*${year}[^<]*UTC</time>`,
      ),
    );
    const expected = new Intl.DateTimeFormat("de", {
      year: "numeric",
      month: "short",
      day: "numeric",
      timeZone: "UTC",
    }).format(new Date());
    assert.ok(text.includes(expected.split(",")[0] as string), expected);
  });

  test("GET /logout shows a page whose button signs out with a POST", async () => {
    const page = await (
      await fetch(`${server.url}/auth/logout`, { headers: { "accept-language": "es" } })
    ).text();
    assert.match(
      page,
      /<form method="post" action="\/auth\/logout">\s*<button type="submit"[^>]*>Cerrar sesión<\/button>/,
    );
  });
});

describe("languages: LOCALES_DIR and DEFAULT_LOCALE", () => {
  let database: DatabaseHandle;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
  });
  after(async () => {
    await database?.close();
  });

  test("an override directory adds a language and replaces one English string", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-locales-"));
    mkdirSync(join(dir, "it"));
    writeFileSync(
      join(dir, "it", "sign-in.json"),
      JSON.stringify({ heading: "Accedi a {siteName}", submit: "Accedi" }),
    );
    mkdirSync(join(dir, "en"));
    writeFileSync(join(dir, "en", "sign-in.json"), JSON.stringify({ submit: "Log in" }));
    const server = await startGatehouse(database, { LOCALES_DIR: dir });
    try {
      const italian = await loginPage(server.url, { "accept-language": "it-IT, en;q=0.5" });
      assert.match(italian, /<html lang="it">/);
      assert.match(italian, /<h1>Accedi a gatehouse<\/h1>/);
      assert.match(italian, /<button type="submit">Accedi<\/button>/);
      // What the new language leaves out falls back to English.
      assert.match(italian, /Forgot your password\?/);
      assert.match(italian, /<option value="it" lang="it" selected>Italiano<\/option>/);
      const english = await loginPage(server.url, {});
      assert.match(english, /<button type="submit">Log in<\/button>/);
      assert.match(english, /<h1>Sign in to gatehouse<\/h1>/);
      const chosen = await fetch(
        `${server.url}/auth/locale`,
        postForm({ locale: "it", return: "/auth/login" }),
      );
      assert.equal(chosen.status, 303);
    } finally {
      await server.stop();
    }
  });

  test("DEFAULT_LOCALE is the language when the browser names none we have", async () => {
    const server = await startGatehouse(database, { DEFAULT_LOCALE: "fr" });
    try {
      assert.match(await loginPage(server.url, {}), /Se connecter à gatehouse/);
      assert.match(await loginPage(server.url, { "accept-language": "pt" }), /Se connecter à/);
      assert.match(await loginPage(server.url, { "accept-language": "en" }), /Sign in to/);
    } finally {
      await server.stop();
    }
  });
});

test("EMAIL_TEMPLATES_DIR: <locale>/<kind>.<part> overrides one language, <kind>.<part> every other, as written", () => {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-mail-locales-"));
  writeFileSync(join(dir, "verify-email.subject"), "Welcome to {{siteName}}");
  mkdirSync(join(dir, "de"));
  writeFileSync(join(dir, "de", "verify-email.subject"), "Willkommen bei {{siteName}}");
  const templates = loadTemplates(dir);
  const languages = loadLanguages({ default_locale: "en" });
  const values = { siteName: "Acme", email: "a@example.test", link: "https://x/", expiresIn: "" };
  const render = (locale: string) =>
    templates.render("verify-email", values, locale, languages.t(locale));
  assert.equal(render("de").subject, "Willkommen bei Acme");
  assert.equal(render("fr").subject, "Welcome to Acme");
  // The parts no file replaces stay built in, in the recipient's language.
  assert.match(render("fr").text, /Veuillez confirmer que a@example\.test est bien votre adresse/);
  assert.match(render("de").html, /Meine Adresse bestätigen/);
  writeFileSync(join(dir, "de", "verify-email.html"), "{{#link}} never closed");
  assert.throws(
    () => loadTemplates(dir),
    (error) => error instanceof ConfigError && /de\/verify-email\.html/.test(error.message),
  );
});
