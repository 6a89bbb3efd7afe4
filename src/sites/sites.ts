// The sites gatehouse serves (SITES): which hosts belong to which site, which
// one is the home of the sign-in pages (PUBLIC_URL's), and each site's
// session cookie. Pure functions, no I/O: the resolver, the hop routes and
// the redirect policy all ask the same table. Invariant: a host that no site
// covers is never given a session, a hop code or a redirect.
import { z } from "zod";

export type Site = {
  /** The configured domain, lower-case, with a port when not the scheme's default: the site's key. */
  domain: string;
  /** The domain without its port. */
  hostname: string;
  /** The port the site is served on ("" for the scheme's default). */
  port: string;
  /** True: the domain and every subdomain, with a Domain cookie; false: this exact host, host-only cookie. */
  cookieDomain: boolean;
  name?: string;
  /** Handed to whoever renders the pages; gatehouse only carries it. */
  branding?: string;
  home: boolean;
};

export type SiteTable = {
  /** Empty when SITES is not set: then every host is served as before (one site). */
  sites: Site[];
  home: Site;
  /** http: or https:, PUBLIC_URL's: every site is served on it. */
  protocol: string;
};

const LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*(:\\d{1,5})?$`);

/** One entry of SITES as written. */
export const siteSchema = z
  .object({
    domain: z
      .string()
      .transform((value) => value.trim().toLowerCase().replace(/\.$/, ""))
      .pipe(
        z
          .string()
          .regex(
            DOMAIN,
            "must be a domain like shop.example or app.client.io (a port may follow: shop.example:8443)",
          ),
      ),
    cookie_domain: z.boolean().default(false),
    name: z.string().trim().min(1).max(100).optional(),
    branding: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/i, "letters, digits, _ and - only")
      .optional(),
  })
  .strict();

export type SiteSetting = z.output<typeof siteSchema>;

const defaultPort = (protocol: string) => (protocol === "https:" ? "443" : "80");

/** Lower-cased, trailing dot and the scheme's default port removed; undefined when it is not a host[:port]. */
export function normalizeHost(host: string | undefined, protocol: string): string | undefined {
  if (!host) return undefined;
  const value = host.trim().toLowerCase();
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+?)\.?(?::(\d{1,5}))?$/.exec(value);
  if (!match?.[1]) return undefined;
  const port = match[2] && match[2] !== defaultPort(protocol) ? `:${Number(match[2])}` : "";
  return `${match[1]}${port}`;
}

/** A normalised host's name and port ("" for the default): [::1]:8443 → ["[::1]", "8443"]. */
function splitHost(host: string): [string, string] {
  const colon = host.indexOf(":", host.startsWith("[") ? host.indexOf("]") : 0);
  return colon === -1 ? [host, ""] : [host.slice(0, colon), host.slice(colon + 1)];
}

function toSite(setting: SiteSetting, protocol: string, home: boolean): Site {
  const host = normalizeHost(setting.domain, protocol) ?? setting.domain;
  const [hostname, port] = splitHost(host);
  return {
    domain: host,
    hostname,
    port,
    cookieDomain: setting.cookie_domain,
    ...(setting.name ? { name: setting.name } : {}),
    ...(setting.branding ? { branding: setting.branding } : {}),
    home,
  };
}

/** True when `hostname` is the site's host, or (cookie_domain) below it. */
function covers(site: Pick<Site, "hostname" | "cookieDomain">, hostname: string): boolean {
  return (
    hostname === site.hostname || (site.cookieDomain && hostname.endsWith(`.${site.hostname}`))
  );
}

/**
 * Builds the table from SITES, PUBLIC_URL and COOKIE_DOMAIN; returns the
 * problems instead when the sites overlap, none of them is PUBLIC_URL's, or
 * the home entry disagrees with COOKIE_DOMAIN.
 */
export function buildSiteTable(
  settings: SiteSetting[],
  publicUrl: URL,
  cookieDomain: string | undefined,
): { table: SiteTable } | { problems: string[] } {
  const protocol = publicUrl.protocol;
  const problems: string[] = [];
  const publicHost = normalizeHost(publicUrl.host, protocol) as string;
  const implicitHome: SiteSetting = cookieDomain
    ? {
        domain: `${cookieDomain}${publicUrl.port ? `:${publicUrl.port}` : ""}`,
        cookie_domain: true,
      }
    : { domain: publicHost, cookie_domain: false };
  if (settings.length === 0)
    return { table: { sites: [], home: toSite(implicitHome, protocol, true), protocol } };
  const sites = settings.map((setting) => toSite(setting, protocol, false));
  const publicHostname = publicUrl.hostname;
  const publicPort = splitHost(publicHost ?? "")[1];
  let home = sites.find((site) => site.port === publicPort && covers(site, publicHostname));
  if (!home) {
    home = toSite(implicitHome, protocol, true);
    sites.unshift(home);
  } else {
    home.home = true;
    if (home.cookieDomain && home.hostname !== cookieDomain)
      problems.push(
        `SITES: ${home.domain} is PUBLIC_URL's site and sets cookie_domain, so COOKIE_DOMAIN must be ${home.hostname}`,
      );
    if (!home.cookieDomain && cookieDomain && cookieDomain !== home.hostname)
      problems.push(
        `SITES: ${home.domain} is PUBLIC_URL's site: set cookie_domain: true on it to use COOKIE_DOMAIN=${cookieDomain}`,
      );
    if (!home.cookieDomain && cookieDomain) home.cookieDomain = true;
  }
  for (const [i, a] of sites.entries())
    for (const b of sites.slice(i + 1)) {
      if (a.port !== b.port) continue;
      if (covers(a, b.hostname) || covers(b, a.hostname))
        problems.push(
          `SITES: ${a.domain} and ${b.domain} overlap: a host may belong to one site only (a browser would send one site's cookie to the other)`,
        );
    }
  if (problems.length > 0) return { problems };
  return { table: { sites, home, protocol } };
}

/** The site a (normalised) host belongs to; undefined for an unknown host. */
export function siteOf(table: SiteTable, host: string | undefined): Site | undefined {
  const normal = normalizeHost(host, table.protocol);
  if (!normal) return undefined;
  const [hostname, port] = splitHost(normal);
  return table.sites.find((site) => site.port === port && covers(site, hostname));
}

/** The origin of a host on the table's scheme: https://shop.example. */
export function originOf(table: SiteTable, host: string): string {
  return `${table.protocol}//${normalizeHost(host, table.protocol) ?? host}`;
}

/**
 * A satellite's session cookie: its own name's prefix by the same rules as
 * the home cookie (`__Host-` when host-only on https, `__Secure-` with a
 * Domain), and a Domain only when the site sets cookie_domain.
 */
export function satelliteCookie(
  site: Site,
  baseName: string,
  secure: boolean,
): { name: string; domain?: string } {
  const prefix = !secure ? "" : site.cookieDomain ? "__Secure-" : "__Host-";
  return {
    name: `${prefix}${baseName}`,
    ...(site.cookieDomain ? { domain: site.hostname } : {}),
  };
}
