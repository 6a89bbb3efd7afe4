// Reconstructs the request the proxy is asking about from the headers each
// proxy sends: X-Forwarded-Method/Proto/Host/Uri (Traefik, Caddy),
// X-Original-URL and X-Original-Method (ingress-nginx), X-Original-URI (the
// shipped nginx config). They are believed only from trusted proxies.
import { normalizePath } from "./path.ts";

export type OriginalRequest = {
  method: string;
  /** Lower-cased, trailing dot removed, port kept when not the default. */
  host: string;
  /** Normalised once: what access rules are matched against. */
  path: string;
  /** The absolute original URL. */
  url: string;
  /** Where the login page returns the browser: X-Auth-Request-Redirect when a trusted proxy set one, else `url`. */
  returnTo: string;
  /** True for a top-level browser navigation (may be answered with a redirect). */
  isBrowserNavigation: boolean;
};

export type ResolveHeaders = (name: string) => string | undefined;

const METHOD_PATTERN = /^[A-Z]{1,16}$/;

function first(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const item = value.split(",")[0]?.trim();
  return item ? item : undefined;
}

/**
 * Returns the original request, or an error message when the forwarded
 * headers cannot be read as one request.
 */
export function readOriginalRequest(input: {
  trusted: boolean;
  header: ResolveHeaders;
  method: string;
  /** The URL gatehouse itself was asked on (used when the peer is not trusted). */
  ownUrl: URL;
}): OriginalRequest | { error: string } {
  const { header } = input;
  let method = input.method.toUpperCase();
  let rawUrl: string;
  if (input.trusted) {
    const originalUrl = header("x-original-url");
    // The method is read from the same family of headers as the URL: under
    // ingress-nginx a client's own X-Forwarded-Method reaches gatehouse and
    // must not decide which method the rules see.
    const methodHeader =
      originalUrl !== undefined
        ? header("x-original-method")
        : header("x-forwarded-uri") !== undefined
          ? header("x-forwarded-method")
          : (header("x-original-method") ?? header("x-forwarded-method"));
    method = (methodHeader ?? method).trim().toUpperCase();
    if (originalUrl !== undefined) {
      rawUrl = originalUrl.trim();
    } else {
      const proto = (
        first(header("x-forwarded-proto")) ?? input.ownUrl.protocol.slice(0, -1)
      ).toLowerCase();
      const host = first(header("x-forwarded-host")) ?? header("host") ?? input.ownUrl.host;
      const uri = header("x-forwarded-uri") ?? header("x-original-uri") ?? "/";
      if (proto !== "http" && proto !== "https")
        return { error: "X-Forwarded-Proto must be http or https" };
      if (!uri.startsWith("/")) return { error: "the original URI must start with /" };
      if (/[/\\?#@]/.test(host)) return { error: "the original host is not a host" };
      rawUrl = `${proto}://${host}${uri}`;
    }
  } else {
    rawUrl = input.ownUrl.href;
  }
  if (!METHOD_PATTERN.test(method)) return { error: "the original method is not an HTTP method" };
  if (rawUrl.length > 8192) return { error: "the original URL is too long" };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { error: "the original URL is not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { error: "the original URL must be http or https" };
  // The raw path, before the URL parser resolves anything: rules see it normalised our way.
  const afterAuthority = rawUrl.slice(rawUrl.indexOf("//") + 2);
  const slash = afterAuthority.search(/[/\\?#]/);
  const rawPath = slash === -1 ? "/" : afterAuthority.slice(slash).split(/[?#]/)[0] || "/";
  const path = normalizePath(rawPath);
  if (path === undefined) return { error: "the original path cannot be read safely" };
  const accept = header("accept") ?? "";
  return {
    method,
    host: url.host.replace(/\.(?=:|$)/, ""),
    path,
    url: url.href,
    returnTo: (input.trusted && returnTarget(header("x-auth-request-redirect"), url)) || url.href,
    isBrowserNavigation:
      (method === "GET" || method === "HEAD") &&
      accept.includes("text/html") &&
      (header("x-requested-with") ?? "").toLowerCase() !== "xmlhttprequest" &&
      (header("sec-fetch-mode") ?? "navigate") === "navigate",
  };
}

/** X-Auth-Request-Redirect (ingress-nginx: the request URI, or the auth-request-redirect annotation), made absolute. */
function returnTarget(value: string | undefined, original: URL): string | undefined {
  if (!value?.trim()) return undefined;
  try {
    const target = new URL(value.trim(), original);
    return target.protocol === "http:" || target.protocol === "https:" ? target.href : undefined;
  } catch {
    return undefined;
  }
}
