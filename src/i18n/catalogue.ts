// Message catalogues: every string a person reads on a hosted page or in a
// mail. A catalogue is a folder per language (`locales/<locale>/`) holding one
// JSON file per area (`sign-in.json`, `mfa.json`...), each a flat object of
// keys to ICU MessageFormat strings (`"Hello {name}"`). A key is written
// `<area>.<key>`: `t("sign-in.title")`. A string missing in a language falls
// back to English, then to the key itself, so a page never breaks on a gap
// (the catalogue test is what keeps the gaps out).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { IntlMessageFormat } from "intl-messageformat";
import { ConfigError } from "../kernel/config-error.ts";

export type MessageValues = Record<string, string | number | Date>;
export type Translate = (key: string, values?: MessageValues) => string;

/** locale → "<area>.<key>" → message source. */
export type Catalogues = Map<string, Map<string, string>>;

export const SHIPPED_LOCALES_DIR = join(import.meta.dirname, "locales");
export const FALLBACK_LOCALE = "en";

/**
 * Reads catalogue folders in order; a later folder adds languages and
 * replaces single strings of an earlier one. A file that is not a flat
 * object of strings, or a message that does not parse, stops startup
 * naming the file and key.
 */
export function loadCatalogues(dirs: string[]): Catalogues {
  const catalogues: Catalogues = new Map();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const locale of readdirSync(dir).sort()) {
      const localeDir = join(dir, locale);
      if (!statSync(localeDir).isDirectory()) continue;
      const messages = catalogues.get(locale) ?? new Map<string, string>();
      catalogues.set(locale, messages);
      for (const file of readdirSync(localeDir)
        .filter((name) => name.endsWith(".json"))
        .sort()) {
        const area = basename(file, ".json");
        const path = join(localeDir, file);
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(path, "utf8"));
        } catch (error) {
          throw new ConfigError([
            `message catalogue ${path} is not valid JSON: ${(error as Error).message}`,
          ]);
        }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new ConfigError([`message catalogue ${path} must be an object of keys to strings`]);
        }
        for (const [key, source] of Object.entries(parsed)) {
          if (typeof source !== "string") {
            throw new ConfigError([`message catalogue ${path}: "${key}" must be a string`]);
          }
          try {
            new IntlMessageFormat(source, locale);
          } catch (error) {
            throw new ConfigError([
              `message catalogue ${path}: "${key}" does not parse: ${(error as Error).message}`,
            ]);
          }
          messages.set(`${area}.${key}`, source);
        }
      }
    }
  }
  return catalogues;
}

const shipped = loadCatalogues([SHIPPED_LOCALES_DIR]);
const compiled = new Map<string, IntlMessageFormat>();

/** A function that renders keys in `locale`, falling back to English, then the key. */
export function translator(locale: string, catalogues: Catalogues = shipped): Translate {
  const own = catalogues.get(locale);
  const fallback = catalogues.get(FALLBACK_LOCALE);
  return (key, values) => {
    const [messageLocale, source] = own?.has(key)
      ? [locale, own.get(key) as string]
      : fallback?.has(key)
        ? [FALLBACK_LOCALE, fallback.get(key) as string]
        : [FALLBACK_LOCALE, undefined];
    if (source === undefined) return key;
    const cacheKey = `${messageLocale}\u0000${source}`;
    let format = compiled.get(cacheKey);
    if (!format) {
      format = new IntlMessageFormat(source, messageLocale);
      compiled.set(cacheKey, format);
    }
    return String(format.format(values));
  };
}
