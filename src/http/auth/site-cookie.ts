// Which site (SITES) a request under AUTH_PREFIX is on, by its host, and
// that site's session cookie: the home cookie on the home site, the
// satellite's own (host-only unless it sets cookie_domain) on a satellite.
// Without SITES every request is the home site's, as before.
import type { Context } from "hono";
import type { Config } from "../../config.ts";
import { isTrustedPeer } from "../../security/trusted-proxies.ts";
import type { SessionRecord } from "../../sessions/store.ts";
import { type Site, satelliteCookie, siteOf } from "../../sites/sites.ts";
import { peerAddress } from "../context.ts";

export type SessionCookieOptions = {
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "Lax";
  domain?: string;
};

export type SiteHelpers = {
  /**
   * The host the browser asked for: a trusted proxy's X-Forwarded-Host (one
   * host, not a list) when it sends one, else the Host header.
   */
  requestHost(c: Context): string | undefined;
  /** The SITES site of the request's Host; undefined for an unknown host (or when SITES is not set). */
  siteOf(c: Context): Site | undefined;
  /** The session cookie of the site the request is on: its name and attributes. */
  siteCookie(c: Context): { name: string; options: SessionCookieOptions };
  /** False for a session made for another site than the request's (never honoured there). */
  sessionFits(c: Context, session: SessionRecord): boolean;
};

export function siteHelpers(config: Config, homeCookie: SessionCookieOptions): SiteHelpers {
  const sitesOn = config.sites.sites.length > 0;
  const requestHost = (c: Context) => {
    const forwarded = c.req.header("x-forwarded-host")?.trim();
    if (
      forwarded &&
      !forwarded.includes(",") &&
      isTrustedPeer(peerAddress(c), config.trusted_proxies)
    )
      return forwarded;
    return c.req.header("host");
  };
  const requestSite = (c: Context) => (sitesOn ? siteOf(config.sites, requestHost(c)) : undefined);
  return {
    requestHost,
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
