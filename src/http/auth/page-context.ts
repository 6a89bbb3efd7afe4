// What a hosted page rendered for one request needs: the deployment's name,
// prefix and sign-in options, and the language this request gets (the locale
// cookie, then Accept-Language, then DEFAULT_LOCALE: i18n/negotiate.ts).
import type { Context } from "hono";
import type { Config } from "../../config.ts";
import type { Languages } from "../../i18n/languages.ts";
import { LOCALE_COOKIE } from "../../i18n/negotiate.ts";
import { cookieValues } from "../context.ts";
import type { PageContext } from "../pages/layout.ts";

export function pageContexts(
  config: Config,
  languages: Languages,
  options: Pick<PageContext, "providers" | "passkeys">,
): (c: Context) => PageContext {
  const base = { siteName: config.site_name, prefix: config.auth_prefix, ...options };
  return (c) => {
    const locale = languages.pick(
      cookieValues(c.req.header("cookie"), LOCALE_COOKIE)[0],
      c.req.header("accept-language"),
    );
    return { ...base, locale, t: languages.t(locale) };
  };
}
