// Reconstructs the request the proxy is asking about from the headers each
// proxy sends: X-Forwarded-Method/Proto/Host/Uri (Traefik, Caddy),
// X-Original-URL and X-Original-Method (ingress-nginx), X-Original-URI (the
// shipped nginx config). They are believed only from trusted proxies.
// Invariant: what the rules judge is what the application will receive; a
// request that cannot be read as one unambiguous request is an error, never a
// guess. The common case is read with a few string operations; the WHATWG URL
// parser is used only for hosts that are not plain ASCII names.
import { readPath } from "./path.ts";

export type OriginalRequest = {
  method: string;
  /** Lower-cased, trailing dot removed, port kept when not the default. */
  host: string;
  /** What access rules are matched against (see readPath). */
  path: string;
  /** The raw path holds an encoded `/` or `\`: refused unless the matching rule opts in. */
  encodedSlashes: boolean;
  /**
   * Other ways the application might read the same request (its method
   * overridden, its encoded slashes decoded): each must fall under the same
   * rule, or the request is refused.
   */
  otherReadings: OtherReading[];
  /** The absolute original URL (scheme, host, raw path and query). */
  url: string;
};

export type OtherReading = { method: string; path: string; why: string };

export type ResolveHeaders = (name: string) => string | undefined;

const METHOD_PATTERN = /^[A-Z]{1,16}$/;
const PLAIN_HOST = /^([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)\.?(?::(\d{1,5}))?$/;
const IPV6_HOST = /^(\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;
// The authority ends at the first `/` only: a `?` or `#` in it (`Host: a.com?`,
// accepted by nginx and copied by ingress-nginx into X-Original-URL) makes
// the host invalid rather than moving the path into a query.
const ABSOLUTE_URL = /^([a-z][a-z0-9+.-]*):\/\/([^/\\]*)(.*)$/is;
// Headers a proxy describes the original request with: from a peer that is
// not a trusted proxy they mean a misconfigured deployment (or a forgery), and
// judging gatehouse's own URL instead would skip every path and host rule.
const FORWARDED_REQUEST_HEADERS = [
  "x-original-url",
  "x-original-uri",
  "x-original-method",
  "x-forwarded-uri",
  "x-forwarded-method",
  "x-forwarded-host",
];
const METHOD_OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"];
const MAX_URL_LENGTH = 8192;

function first(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const comma = value.indexOf(",");
  const item = (comma === -1 ? value : value.slice(0, comma)).trim();
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
  /** The path and query gatehouse itself was asked on (used when the peer is not trusted). */
  ownUri: string;
  /** The Host gatehouse itself was asked on. */
  ownHost: string;
  ownProto: "http" | "https";
}): OriginalRequest | { error: string } {
  const { header } = input;
  if (!input.trusted) {
    if (FORWARDED_REQUEST_HEADERS.some((name) => header(name) !== undefined))
      return {
        error:
          "forwarded request headers from a peer that is not a trusted proxy: add the proxy's address to TRUSTED_PROXIES",
      };
    return build(header, input.method, input.ownProto, input.ownHost, input.ownUri);
  }
  const originalUrl = header("x-original-url");
  // The method is read from the same family of headers as the URL: under
  // ingress-nginx a client's own X-Forwarded-Method reaches gatehouse and
  // must not decide which method the rules see.
  const method =
    originalUrl !== undefined
      ? header("x-original-method")
      : header("x-forwarded-uri") !== undefined
        ? header("x-forwarded-method")
        : (header("x-original-method") ?? header("x-forwarded-method"));
  if (method === undefined)
    return { error: "the proxy sent no original method (X-Forwarded-Method or X-Original-Method)" };
  if (originalUrl !== undefined) {
    const parts = ABSOLUTE_URL.exec(originalUrl.trim());
    if (!parts) return { error: "the original URL is not a URL" };
    const rest = parts[3] as string;
    return build(
      header,
      method.trim(),
      (parts[1] as string).toLowerCase(),
      parts[2] as string,
      rest === "" ? "/" : rest,
    );
  }
  const proto = (first(header("x-forwarded-proto")) ?? input.ownProto).toLowerCase();
  const forwardedHost = header("x-forwarded-host");
  if (forwardedHost?.includes(","))
    return { error: "X-Forwarded-Host must name one host, not a list" };
  // Never the subrequest's own Host (the upstream's name): the proxy names it.
  const host = forwardedHost?.trim();
  if (!host)
    return { error: "the proxy sent no original host (X-Forwarded-Host or X-Original-URL)" };
  const uri = header("x-forwarded-uri") ?? header("x-original-uri");
  if (uri === undefined)
    return {
      error: "the proxy sent no original URI (X-Forwarded-Uri, X-Original-URI or X-Original-URL)",
    };
  return build(header, method.trim(), proto, host, uri);
}

function build(
  header: ResolveHeaders,
  method: string,
  proto: string,
  rawHost: string,
  uri: string,
): OriginalRequest | { error: string } {
  // Methods are case-sensitive: `get` is not GET to an application that compares.
  if (!METHOD_PATTERN.test(method))
    return { error: "the original method is not an upper-case HTTP method" };
  if (proto !== "http" && proto !== "https")
    return { error: "the original URL must be http or https" };
  if (uri.length > MAX_URL_LENGTH) return { error: "the original URL is too long" };
  if (uri.charCodeAt(0) !== 47) return { error: "the original URI must start with /" };
  const host = readHost(rawHost, proto);
  if (host === undefined) return { error: "the original host is not a host" };
  const end = uri.search(/[?#]/);
  const reading = readPath(end === -1 ? uri : uri.slice(0, end));
  if ("error" in reading) return reading;
  const otherReadings: OtherReading[] = [];
  if (reading.encodedSlashes)
    otherReadings.push({
      method,
      path: reading.path.replace(/%2F|%5C/g, "/"),
      why: "path with its encoded slashes decoded",
    });
  const override = methodOverride(header, end === -1 ? "" : uri.slice(end));
  if (override !== undefined && "error" in override) return override;
  if (override !== undefined && override.method !== method)
    otherReadings.push({ method: override.method, path: reading.path, why: override.why });
  return {
    method,
    host,
    path: reading.path,
    encodedSlashes: reading.encodedSlashes,
    otherReadings,
    url: `${proto}://${host}${uri}`,
  };
}

/**
 * A method the application may run instead of the one sent: override headers
 * (Express's method-override, Laravel, Symfony, ASP.NET) or `?_method=`
 * (Spring's HiddenHttpMethodFilter). A `_method` in a form body cannot be
 * seen here; rules that differ by method should not rely on it.
 */
function methodOverride(
  header: ResolveHeaders,
  queryAndFragment: string,
): { method: string; why: string } | { error: string } | undefined {
  let value: string | undefined;
  let why = "";
  for (const name of METHOD_OVERRIDE_HEADERS) {
    value = header(name);
    if (value !== undefined) {
      why = `method in ${name}`;
      break;
    }
  }
  if (value === undefined && queryAndFragment.includes("_method=")) {
    value =
      new URLSearchParams(queryAndFragment.slice(1).split("#")[0]).get("_method") ?? undefined;
    why = "method in the _method query parameter";
  }
  if (value === undefined) return undefined;
  const method = value.trim().toUpperCase();
  if (!METHOD_PATTERN.test(method)) return { error: `the ${why} is not an HTTP method` };
  return { method, why };
}

/** Lower-cased, trailing dot and default port removed; undefined when it is not a host. */
function readHost(raw: string, proto: string): string | undefined {
  const lower = raw.toLowerCase();
  const parts = PLAIN_HOST.exec(lower) ?? IPV6_HOST.exec(lower) ?? parseHost(raw, proto);
  if (!parts) return undefined;
  const name = parts[1] as string;
  const port = parts[2];
  if (port === undefined) return name;
  const number = Number(port);
  if (number > 65535) return undefined;
  const defaultPort = proto === "https" ? 443 : 80;
  return number === defaultPort ? name : `${name}:${number}`;
}

/** An internationalised name: the URL parser turns it into its ASCII (punycode) form. */
function parseHost(raw: string, proto: string): RegExpExecArray | null {
  if (raw === "" || /[/\\?#@%\s]/.test(raw)) return null;
  try {
    const url = new URL(`${proto}://${raw}/`);
    return PLAIN_HOST.exec(url.host) ?? IPV6_HOST.exec(url.host);
  } catch {
    return null;
  }
}

/** Where the login page returns the browser: X-Auth-Request-Redirect when a trusted proxy set one (ingress-nginx), else the original URL. */
export function returnTarget(
  original: OriginalRequest,
  header: ResolveHeaders,
  trusted: boolean,
): string {
  const value = trusted ? header("x-auth-request-redirect")?.trim() : undefined;
  if (!value) return original.url;
  try {
    const target = new URL(value, original.url);
    return target.protocol === "http:" || target.protocol === "https:" ? target.href : original.url;
  } catch {
    return original.url;
  }
}

/** True for a top-level browser navigation (may be answered with a redirect). */
export function isBrowserNavigation(original: OriginalRequest, header: ResolveHeaders): boolean {
  return (
    (original.method === "GET" || original.method === "HEAD") &&
    (header("accept") ?? "").includes("text/html") &&
    (header("x-requested-with") ?? "").toLowerCase() !== "xmlhttprequest" &&
    (header("sec-fetch-mode") ?? "navigate") === "navigate"
  );
}
