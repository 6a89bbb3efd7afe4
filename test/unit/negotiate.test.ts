// Which language a visitor gets: their choice, then Accept-Language, then
// DEFAULT_LOCALE; never a language without a catalogue.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../../src/config.ts";
import { loadLanguages } from "../../src/i18n/languages.ts";
import { acceptedLanguages, negotiateLocale } from "../../src/i18n/negotiate.ts";

const have = new Set(["en", "de", "fr", "es", "pt-BR"]);

test("the visitor's choice wins over Accept-Language, which wins over the default", () => {
  assert.equal(negotiateLocale("fr", "de-DE,de;q=0.9", have, "en"), "fr");
  assert.equal(negotiateLocale(undefined, "de-DE,de;q=0.9,en;q=0.5", have, "en"), "de");
  assert.equal(negotiateLocale(undefined, undefined, have, "es"), "es");
  // A choice we have no catalogue for is passed over, not honoured.
  assert.equal(negotiateLocale("xx", "es", have, "en"), "es");
});

test("Accept-Language: quality order, regions fall back to their language, q=0 and * are ignored", () => {
  assert.deepEqual(acceptedLanguages("en;q=0.2, fr-CA;q=0.8, de;q=0, *"), ["fr-CA", "en"]);
  assert.equal(negotiateLocale(undefined, "fr-CA;q=0.8, it", have, "en"), "fr");
  assert.equal(negotiateLocale(undefined, "pt-br", have, "en"), "pt-BR");
  assert.equal(negotiateLocale(undefined, "de;q=0, *", have, "en"), "en");
  assert.equal(negotiateLocale(undefined, "garbage;q=x,,;", have, "en"), "en");
  assert.equal(negotiateLocale(undefined, `${"a".repeat(5000)},de`, have, "en"), "de");
});

test("DEFAULT_LOCALE must name a language with a catalogue; LOCALES_DIR adds one", () => {
  assert.throws(
    () => loadLanguages({ default_locale: "it" }),
    (error: unknown) =>
      error instanceof ConfigError && /DEFAULT_LOCALE: no catalogue for "it"/.test(error.message),
  );
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-locales-"));
  mkdirSync(join(dir, "it"));
  writeFileSync(join(dir, "it", "common.json"), JSON.stringify({ continue: "Continua" }));
  const languages = loadLanguages({ default_locale: "it", locales_dir: dir });
  assert.equal(languages.pick(undefined, "ja"), "it");
  assert.equal(languages.t("it")("common.continue"), "Continua");
  // A key the new language lacks falls back to English.
  assert.equal(languages.t("it")("common.cancel"), "Cancel");
  assert.equal(languages.t("de")("common.cancel") !== "common.cancel", true);
});
