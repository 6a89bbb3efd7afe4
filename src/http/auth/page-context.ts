// What a page rendered for a request needs (PageContext): its language (the
// locale cookie, then Accept-Language, then DEFAULT_LOCALE) with its messages
// and the language selector's choices, and its brand (the request's site's,
// or the one a route chose: branding/pick.ts), with the brand's name as the
// site's name.
import type { Context } from "hono";
import type { Brand } from "../../branding/brands.ts";
import { requestBrand } from "../../branding/pick.ts";
import { LOCALE_COOKIE } from "../../i18n/negotiate.ts";
import { cookieValues } from "../context.ts";
import type { PageContext } from "../pages/layout.ts";
import type { AuthEnv, AuthServices } from "./kit.ts";
import type { SiteHelpers } from "./site-cookie.ts";

export function pageHelpers(
  services: AuthServices,
  sites: Pick<SiteHelpers, "siteOf">,
  /** The return target `rd` when it is acceptable (redirect-target.ts), else undefined. */
  validRd: (rd: string) => string | undefined,
) {
  const { config, languages } = services;
  const brandOf = <E extends AuthEnv>(c: Context<E>): Brand =>
    requestBrand(services.brands, config.sites, {
      site: sites.siteOf(c),
      returnTo: c.req.query("rd"),
      prefix: config.auth_prefix,
    });
  const base = {
    prefix: config.auth_prefix,
    providers: services.oauth.list(),
    passkeys: services.passkeys !== null,
  };
  return {
    brandOf,
    page<E extends AuthEnv>(c: Context<E>): PageContext {
      const locale = languages.pick(
        cookieValues(c.req.header("cookie"), LOCALE_COOKIE)[0],
        c.req.header("accept-language"),
      );
      const brand = (c.get("brand") as Brand | undefined) ?? brandOf(c);
      // A satellite serves only the hop and sign-out: its selector would post where it cannot.
      const satellite = sites.siteOf(c)?.home === false;
      return {
        ...base,
        siteName: brand.name,
        brand,
        locale,
        t: languages.t(locale),
        ...(satellite
          ? {}
          : { languages: { choices: languages.choices, returnTo: pageReturnPath(c, validRd) } }),
      };
    },
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
