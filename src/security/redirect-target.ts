// Where a browser may be sent after login (`rd`) and which origins may post
// to gatehouse: checked once, on the WHATWG-parsed URL, by scheme, host and
// port against PUBLIC_URL's origin and ALLOWED_REDIRECT_HOSTS. Anything else
// is refused. With SITES, a host of any configured site is allowed too.
import { type SiteTable, siteOf } from "../sites/sites.ts";
import { hasControlCharacters } from "./text.ts";

export type HostPolicy = {
  publicUrl: URL;
  /**
   * Exact hosts ("app.example.com"), hosts with a port ("app.example.com:8443")
   * or suffix rules ("*.example.com", "*.example.com:8443"). Without a port,
   * only the scheme's default port (443, or 80 on an http deployment) is allowed.
   */
  allowedHosts: string[];
  /** SITES: every host of a configured site (on PUBLIC_URL's scheme) is allowed too. */
  sites?: SiteTable;
};

const MAX_TARGET_LENGTH = 4096;

const defaultPort = (protocol: string) => (protocol === "https:" ? "443" : "80");

/** https always; plain http only when PUBLIC_URL itself is http (a development or internal deployment). */
function isAllowedScheme(url: URL, policy: HostPolicy): boolean {
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && policy.publicUrl.protocol === "http:";
}

/** The same origin as PUBLIC_URL, or a host (and port) of ALLOWED_REDIRECT_HOSTS, on an allowed scheme. */
export function isAllowedOrigin(url: URL, policy: HostPolicy): boolean {
  if (!isAllowedScheme(url, policy)) return false;
  const hostname = url.hostname.replace(/\.$/, "");
  const port = url.port || defaultPort(url.protocol);
  const own = policy.publicUrl;
  if (
    url.protocol === own.protocol &&
    hostname === own.hostname &&
    port === (own.port || defaultPort(own.protocol))
  )
    return true;
  if (
    policy.sites &&
    policy.sites.sites.length > 0 &&
    url.protocol === policy.sites.protocol &&
    siteOf(policy.sites, url.host) !== undefined
  )
    return true;
  return policy.allowedHosts.some((pattern) => {
    const colon = pattern.lastIndexOf(":");
    const patternHost = colon === -1 ? pattern : pattern.slice(0, colon);
    const patternPort =
      colon === -1 ? defaultPort(url.protocol) : String(Number(pattern.slice(colon + 1)));
    if (port !== patternPort) return false;
    if (patternHost.startsWith("*."))
      return hostname.endsWith(patternHost.slice(1)) && hostname.length > patternHost.length - 1;
    return hostname === patternHost;
  });
}

/** The absolute URL to redirect to, or undefined when the target is not allowed. */
export function validateRedirectTarget(input: unknown, policy: HostPolicy): string | undefined {
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_TARGET_LENGTH)
    return undefined;
  // The URL parser silently drops tabs and newlines ("/\t/evil.com" becomes "//evil.com"): refuse them first.
  if (/[\s\u0080-\u009f]/.test(input) || hasControlCharacters(input)) return undefined;
  let url: URL;
  try {
    url = new URL(input, policy.publicUrl);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  if (!isAllowedOrigin(url, policy)) return undefined;
  return url.href;
}

/**
 * For state-changing requests: refuses cross-site browsers. Requests without
 * Origin or Sec-Fetch-Site (scripts, old clients) carry no ambient browser
 * credentials of another site and are let through.
 */
export function isCrossSiteRequest(
  headers: { origin?: string; secFetchSite?: string },
  policy: HostPolicy,
): boolean {
  if (headers.secFetchSite === "cross-site") return true;
  // Set by the browser itself, never by page script: the strongest signal there is.
  if (headers.secFetchSite === "same-origin") return false;
  if (headers.origin === undefined) return false;
  if (headers.origin === "null") return true;
  try {
    return !isAllowedOrigin(new URL(headers.origin), policy);
  } catch {
    return true;
  }
}
