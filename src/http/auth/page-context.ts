// What a page rendered for a request needs (PageContext): its language (the
// locale cookie, then Accept-Language, then DEFAULT_LOCALE) and its brand
// (the request's site's, or the one a route chose: branding/pick.ts), with
// the brand's name as the site's name.
import type { Context } from "hono";
import type { Brand } from "../../branding/brands.ts";
import { requestBrand } from "../../branding/pick.ts";
import { LOCALE_COOKIE } from "../../i18n/negotiate.ts";
import { cookieValues } from "../context.ts";
import type { PageContext } from "../pages/layout.ts";
import type { AuthEnv, AuthServices } from "./kit.ts";
import type { SiteHelpers } from "./site-cookie.ts";

export function pageHelpers(services: AuthServices, sites: Pick<SiteHelpers, "siteOf">) {
  const { config } = services;
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
      const locale = services.languages.pick(
        cookieValues(c.req.header("cookie"), LOCALE_COOKIE)[0],
        c.req.header("accept-language"),
      );
      const brand = (c.get("brand") as Brand | undefined) ?? brandOf(c);
      return { ...base, siteName: brand.name, brand, locale, t: services.languages.t(locale) };
    },
  };
}
