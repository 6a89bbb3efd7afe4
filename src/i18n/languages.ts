// The languages this deployment speaks: the shipped catalogues and the
// operator's LOCALES_DIR over them, and DEFAULT_LOCALE among them. Built once
// at startup; a request only picks one (negotiate.ts).
import { ConfigError } from "../kernel/config-error.ts";
import {
  type Catalogues,
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
};

export function loadLanguages(settings: {
  default_locale: string;
  locales_dir?: string;
}): Languages {
  const catalogues: Catalogues = loadCatalogues(
    settings.locales_dir ? [SHIPPED_LOCALES_DIR, settings.locales_dir] : [SHIPPED_LOCALES_DIR],
  );
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
  };
}
