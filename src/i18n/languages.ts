// The languages this deployment speaks: the shipped catalogues and the
// operator's LOCALES_DIR over them, and DEFAULT_LOCALE among them. Built once
// at startup; a request only picks one (negotiate.ts).
import { ConfigError } from "../kernel/config-error.ts";
import {
  type Catalogues,
  FALLBACK_LOCALE,
  loadCatalogues,
  SHIPPED_LOCALES_DIR,
  type Translate,
  translator,
} from "./catalogue.ts";
import { negotiateLocale } from "./negotiate.ts";

export type Languages = {
  available: ReadonlySet<string>;
  defaultLocale: string;
  /** The language for a visitor's choice (the locale cookie) and Accept-Language. */
  pick(choice: string | undefined, acceptLanguage: string | undefined): string;
  /** A locale's messages, falling back to English. */
  t(locale: string): Translate;
  /**
   * What a person reads of an error on a page in `locale`: `errors.<code>`
   * of that language, else the error's own message. The services' English
   * messages are more precise than a code's, so English pages keep them
   * unless LOCALES_DIR replaces the code's message.
   */
  describeError(locale: string, error: { code: string; message: string }): string;
  /** The available languages, each named in itself ("Deutsch"), in the order to offer them. */
  choices: { locale: string; name: string }[];
};

/** A language's own name for itself, capitalised as a menu item: "Deutsch", "Français". */
export function nativeName(locale: string): string {
  try {
    const name = new Intl.DisplayNames([locale], { type: "language" }).of(locale) ?? locale;
    return name.charAt(0).toLocaleUpperCase(locale) + name.slice(1);
  } catch {
    return locale;
  }
}

export function loadLanguages(settings: {
  default_locale: string;
  locales_dir?: string;
}): Languages {
  const catalogues: Catalogues = loadCatalogues(
    settings.locales_dir ? [SHIPPED_LOCALES_DIR, settings.locales_dir] : [SHIPPED_LOCALES_DIR],
  );
  const operators = settings.locales_dir ? loadCatalogues([settings.locales_dir]) : new Map();
  const available = new Set(catalogues.keys());
  const defaultLocale = [...available].find(
    (locale) => locale.toLowerCase() === settings.default_locale.toLowerCase(),
  );
  if (!defaultLocale)
    throw new ConfigError([
      `DEFAULT_LOCALE: no catalogue for "${settings.default_locale}"; there are ${[...available].join(", ")}`,
    ]);
  const translators = new Map(
    [...available].map((locale) => [locale, translator(locale, catalogues)]),
  );
  return {
    available,
    defaultLocale,
    pick: (choice, acceptLanguage) =>
      negotiateLocale(choice, acceptLanguage, available, defaultLocale),
    t: (locale) => translators.get(locale) ?? (translators.get(defaultLocale) as Translate),
    describeError(locale, error) {
      const key = `errors.${error.code}`;
      const own = locale === FALLBACK_LOCALE ? operators.get(locale) : catalogues.get(locale);
      const translate = translators.get(locale);
      return own?.has(key) && translate ? translate(key) : error.message;
    },
    choices: [...available]
      .map((locale) => ({ locale, name: nativeName(locale) }))
      .sort((a, b) => a.name.localeCompare(b.name, "en")),
  };
}
