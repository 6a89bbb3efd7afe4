// What a hosted page rendered for one request needs: the site's name and
// prefix, the sign-in providers, and the request's language (the locale
// cookie, then Accept-Language, then DEFAULT_LOCALE) with its messages and
// the language selector's choices.
import type { Context } from "hono";
import type { Config } from "../../config.ts";
import type { Languages } from "../../i18n/languages.ts";
import { LOCALE_COOKIE } from "../../i18n/negotiate.ts";
import type { OAuthService } from "../../oauth/service.ts";
import type { PasskeyService } from "../../passkeys/service.ts";
import { cookieValues } from "../context.ts";
import type { PageContext } from "../pages/layout.ts";

export function pageContexts(
  services: {
    config: Config;
    languages: Languages;
    oauth: OAuthService;
    passkeys: PasskeyService | null;
  },
  /** The return target `rd` when it is acceptable (redirect-target.ts), else undefined. */
  validRd: (rd: string) => string | undefined,
): (c: Context) => PageContext {
  const { config, languages } = services;
  const base = {
    siteName: config.site_name,
    prefix: config.auth_prefix,
    providers: services.oauth.list(),
    passkeys: services.passkeys !== null,
  };
  return (c) => {
    const locale = languages.pick(
      cookieValues(c.req.header("cookie"), LOCALE_COOKIE)[0],
      c.req.header("accept-language"),
    );
    return {
      ...base,
      locale,
      t: languages.t(locale),
      languages: { choices: languages.choices, returnTo: pageReturnPath(c, validRd) },
    };
  };
}

/**
 * Where the language selector sends the browser back to: this page when it
 * was asked for with GET, else the page the form was on (the Referer, sent
 * same-origin only); POST /locale checks it is a path under the prefix. A
 * return target the page would refuse is left out, so the page never
 * carries it.
 */
function pageReturnPath(c: Context, validRd: (rd: string) => string | undefined): string {
  const method = c.req.method;
  const from =
    method === "GET" || method === "HEAD" ? c.req.url : (c.req.header("referer") ?? c.req.url);
  let url: URL;
  try {
    url = new URL(from, c.req.url);
  } catch {
    return c.req.path;
  }
  const rd = url.searchParams.get("rd");
  if (rd !== null && validRd(rd) === undefined) url.searchParams.delete("rd");
  return `${url.pathname}${url.search}`;
}
