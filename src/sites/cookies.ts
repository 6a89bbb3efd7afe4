// The session cookie names the resolver reads: the home cookie's, and each
// satellite's when its prefix differs (`__Secure-` for a satellite with a
// Domain beside a `__Host-` home, or the other way round).
import { type SiteTable, satelliteCookie } from "./sites.ts";

export function sessionCookieNames(config: {
  session_cookie: string;
  cookie_name: string;
  secure_cookies: boolean;
  sites: SiteTable;
}): string[] {
  const names = new Set([config.session_cookie]);
  for (const site of config.sites.sites)
    if (!site.home)
      names.add(satelliteCookie(site, config.cookie_name, config.secure_cookies).name);
  return [...names];
}
