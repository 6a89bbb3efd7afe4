// Which language a page is in: the visitor's own choice (the locale cookie,
// set by the selector on every page), then the browser's Accept-Language,
// then DEFAULT_LOCALE. Only languages with a catalogue are ever chosen; a
// region falls back to its language ("de-AT" → "de").

/** The cookie that remembers the selector's choice. */
export const LOCALE_COOKIE = "gatehouse_locale";

/** `available`'s member that `tag` names, exactly or by its language; undefined when none. */
export function matchLocale(tag: string, available: ReadonlySet<string>): string | undefined {
  const wanted = tag.trim().toLowerCase();
  if (!wanted || wanted.length > 35) return undefined;
  for (const locale of available) if (locale.toLowerCase() === wanted) return locale;
  const language = wanted.split("-")[0];
  for (const locale of available) if (locale.toLowerCase() === language) return locale;
  return undefined;
}

/** Accept-Language's tags, best first (q=0 left out; at most 20 considered). */
export function acceptedLanguages(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .slice(0, 20)
    .map((part, index) => {
      const [tag = "", ...params] = part.split(";");
      const q = params.map((param) => param.trim().match(/^q=([01](?:\.\d{0,3})?)$/)).find(Boolean);
      return { tag: tag.trim(), q: q ? Number(q[1]) : 1, index };
    })
    .filter((entry) => entry.tag && entry.tag !== "*" && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((entry) => entry.tag);
}

export function negotiateLocale(
  choice: string | undefined,
  acceptLanguage: string | undefined,
  available: ReadonlySet<string>,
  fallback: string,
): string {
  if (choice) {
    const chosen = matchLocale(choice, available);
    if (chosen) return chosen;
  }
  for (const tag of acceptedLanguages(acceptLanguage)) {
    const accepted = matchLocale(tag, available);
    if (accepted) return accepted;
  }
  return fallback;
}
