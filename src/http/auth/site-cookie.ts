// Which site (SITES) a request under AUTH_PREFIX is on, by its Host, and
// that site's session cookie: the home cookie on the home site, the
// satellite's own (host-only unless it sets cookie_domain) on a satellite.
// Without SITES every request is the home site's, as before.
import type { Context } from "hono";
import type { Config } from "../../config.ts";
import type { SessionRecord } from "../../sessions/store.ts";
import { type Site, satelliteCookie, siteOf } from "../../sites/sites.ts";

export type SessionCookieOptions = {
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "Lax";
  domain?: string;
};

export type SiteHelpers = {
  /** The SITES site of the request's Host; undefined for an unknown host (or when SITES is not set). */
  siteOf(c: Context): Site | undefined;
  /** The session cookie of the site the request is on: its name and attributes. */
  siteCookie(c: Context): { name: string; options: SessionCookieOptions };
  /** False for a session made for another site than the request's (never honoured there). */
  sessionFits(c: Context, session: SessionRecord): boolean;
};

export function siteHelpers(config: Config, homeCookie: SessionCookieOptions): SiteHelpers {
  const sitesOn = config.sites.sites.length > 0;
  const requestSite = (c: Context) =>
    sitesOn ? siteOf(config.sites, c.req.header("host")) : undefined;
  return {
    siteOf: requestSite,
    siteCookie(c) {
      const site = requestSite(c);
      if (!site || site.home) return { name: config.session_cookie, options: homeCookie };
      const { name, domain } = satelliteCookie(site, config.cookie_name, config.secure_cookies);
      const { domain: _, ...hostOnly } = homeCookie;
      return { name, options: domain ? { ...hostOnly, domain } : hostOnly };
    },
    sessionFits(c, session) {
      if (!sitesOn) return true;
      const site = requestSite(c);
      if (!site) return false;
      return (session.site ?? null) === (site.home ? null : site.domain);
    },
  };
}
