// The session cookie names the resolver reads: the home cookie's, and each
// satellite's when its prefix differs (`__Secure-` for a satellite with a
// Domain beside a `__Host-` home, or the other way round). On a site's own
// host only that site's name counts: a `__Secure-` cookie is one a sibling
// subdomain can set, so a host-only site never takes its session from one.
import { type Site, type SiteTable, satelliteCookie } from "./sites.ts";

type CookieSettings = {
  session_cookie: string;
  cookie_name: string;
  secure_cookies: boolean;
  sites: SiteTable;
};

/** The name of a site's session cookie. */
export function siteCookieName(config: CookieSettings, site: Site): string {
  return site.home
    ? config.session_cookie
    : satelliteCookie(site, config.cookie_name, config.secure_cookies).name;
}

export function sessionCookieNames(config: CookieSettings): string[] {
  return [
    ...new Set([
      config.session_cookie,
      ...config.sites.sites.map((site) => siteCookieName(config, site)),
    ]),
  ];
}
