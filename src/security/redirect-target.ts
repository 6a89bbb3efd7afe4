// Where a browser may be sent after login (`rd`) and which origins may post
// to gatehouse: hosts are checked once, on the WHATWG-parsed URL, against
// PUBLIC_URL's host and ALLOWED_REDIRECT_HOSTS. Anything else is refused.
import { hasControlCharacters } from "./text.ts";

export type HostPolicy = {
  publicUrl: URL;
  /** Exact hosts ("app.example.com", "app.example.com:8443") or suffix rules ("*.example.com"). */
  allowedHosts: string[];
};

const MAX_TARGET_LENGTH = 4096;

export function isAllowedHost(url: URL, policy: HostPolicy): boolean {
  const hostname = url.hostname.replace(/\.$/, "");
  if (hostname === policy.publicUrl.hostname) return true;
  return policy.allowedHosts.some((pattern) => {
    if (pattern.startsWith("*."))
      return hostname.endsWith(pattern.slice(1)) && hostname.length > pattern.length - 1;
    return pattern.includes(":")
      ? `${hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}` === pattern
      : hostname === pattern;
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
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (policy.publicUrl.protocol === "https:" && url.protocol !== "https:") return undefined;
  if (url.username || url.password) return undefined;
  if (!isAllowedHost(url, policy)) return undefined;
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
    const origin = new URL(headers.origin);
    if (origin.protocol !== "https:" && origin.protocol !== "http:") return true;
    return !isAllowedHost(origin, policy);
  } catch {
    return true;
  }
}
