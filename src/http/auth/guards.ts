// What stands in front of every route under AUTH_PREFIX, in this order: the
// hosted pages' security headers (outermost, so refusals get them too), a
// deadline for the body to arrive, a size limit, and the refusal of
// state-changing requests from other sites. Last of all, a request for a
// known path with a method it does not answer gets a 405 naming the ones it
// does.
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import type { Brand } from "../../branding/brands.ts";
import { ServiceError } from "../../errors.ts";
import { type HostPolicy, isCrossSiteRequest } from "../../security/redirect-target.ts";
import type { AuthEnv } from "./kit.ts";

const MAX_BODY_BYTES = 16 * 1024;

/**
 * Every answer under AUTH_PREFIX (pages and JSON alike; never /_resolve):
 * no framing, no sniffing, no referrer beyond this origin, a CSP that allows
 * the pages' one inline stylesheet by its hash (the request's brand's, chosen
 * by `brandOf` before the route runs; a route may choose another), same-origin
 * stylesheets (themes), the brand's pictures, stylesheet and fonts where they
 * are, the scripts by their exact URLs (`scripts`: the passkey script, the
 * one that shows local times), requests to this origin only where the
 * passkey script runs (the other fetches nothing), and nothing else; and
 * no-store unless a route chose otherwise: every answer here is about one
 * person or one flow. A route that sets its own CSP keeps it (a brand's SVG
 * gets a stricter one). No form-action: the browser applies it to the
 * redirects after a post too, and those go to allowed hosts and sign-in
 * providers.
 */
export function hostedPageHeaders(
  https: boolean,
  scripts: { passkey: string[]; other: string[] },
  brandOf: (c: Context<AuthEnv>) => Brand,
): MiddlewareHandler<AuthEnv> {
  const sources = [...scripts.passkey, ...scripts.other];
  const fetches = scripts.passkey.length > 0;
  const headers = secureHeaders({
    xFrameOptions: "DENY",
    referrerPolicy: "same-origin",
    // Only where it means something, and only for this host: its subdomains are not ours to decide.
    strictTransportSecurity: https ? "max-age=15552000" : false,
  });
  return async (c, next) => {
    c.set("brand", brandOf(c));
    await headers(c, next);
    if (!c.res.headers.has("content-security-policy"))
      c.res.headers.set(
        "Content-Security-Policy",
        pagePolicy(c.get("brand") ?? brandOf(c), sources, fetches),
      );
    if (!c.res.headers.has("cache-control")) c.res.headers.set("Cache-Control", "no-store");
  };
}

/** The hosted pages' CSP for a brand; `fetches`: a script makes requests (to this origin). */
export function pagePolicy(brand: Brand, scripts: string[], fetches = false): string {
  const directives: [string, string[]][] = [
    ["default-src", ["'none'"]],
    // The scripts, by their exact URLs, and the requests the passkey script makes to this origin.
    ["script-src", scripts],
    ["connect-src", fetches ? ["'self'"] : []],
    ["style-src", [...new Set(["'self'", brand.styleHash, ...brand.styleSources])]],
    ["img-src", brand.imgSources],
    ["font-src", brand.fontSources],
    ["base-uri", ["'none'"]],
    ["frame-ancestors", ["'none'"]],
  ];
  return directives
    .filter(([, sources]) => sources.length > 0)
    .map(([name, sources]) => `${name} ${sources.join(" ")}`)
    .join("; ");
}

/**
 * A body has `seconds` to arrive in full, counted from the request's head: a
 * client trickling bytes gets a 408 (and, its body unread, a closed
 * connection) instead of holding the request open. Every read of the body
 * below this middleware (the size limit, the handlers) goes through it.
 */
export function bodyDeadline(seconds: number): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const method = c.req.method;
    const body = method === "GET" || method === "HEAD" ? null : c.req.raw.body;
    if (!body) return next();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ServiceError(
              "request_timeout",
              `The request body did not arrive within ${seconds} s.`,
            ),
          ),
        seconds * 1000,
      );
    });
    expired.catch(() => {});
    const reader = body.getReader();
    const timed = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await Promise.race([reader.read(), expired]);
        if (!chunk.done) return controller.enqueue(chunk.value);
        clearTimeout(timer);
        controller.close();
      },
      cancel: (reason) => reader.cancel(reason),
    });
    c.req.raw = new Request(c.req.raw, { body: timed, duplex: "half" } as RequestInit);
    try {
      await next();
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Bodies beyond MAX_BODY_BYTES are refused (413) before they are read further. */
export const bodySizeLimit: MiddlewareHandler<AuthEnv> = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ServiceError(
      "payload_too_large",
      `The body must be at most ${MAX_BODY_BYTES} bytes.`,
    );
  },
});

/**
 * State-changing requests from another site's pages are refused (CSRF). A
 * provider's callback is the exception: Apple's arrives as a cross-site
 * POST, and the flow's state and cookie are its protection.
 */
export function crossSiteRefusal(prefix: string, policy: HostPolicy): MiddlewareHandler<AuthEnv> {
  const isProviderCallback = (path: string) =>
    path.startsWith(`${prefix}/oauth/`) && path.endsWith("/callback");
  return async (c, next) => {
    const safe = c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS";
    if (!safe && !isProviderCallback(c.req.path)) {
      const crossSite = isCrossSiteRequest(
        { origin: c.req.header("origin"), secFetchSite: c.req.header("sec-fetch-site") },
        policy,
      );
      if (crossSite)
        throw new ServiceError("cross_site_request", "Cross-site requests are not allowed.");
    }
    await next();
  };
}

/**
 * Registered after every route: a path some route answers, asked with
 * another method, is a 405 with `Allow`; any other path goes on to the
 * app's 404.
 */
export function methodNotAllowed(
  prefix: string,
  routes: () => { method: string; path: string }[],
): MiddlewareHandler<AuthEnv> {
  let patterns: { method: string; pattern: RegExp }[] | undefined;
  const compile = (path: string) =>
    new RegExp(
      `^${path
        .split("/")
        .map((part) =>
          part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("/")}$`,
    );
  return async (c, next) => {
    patterns ??= routes()
      .filter((route) => route.method !== "ALL")
      .map((route) => ({ method: route.method, pattern: compile(route.path) }));
    const path = c.req.path.slice(prefix.length) || "/";
    const allowed = [
      ...new Set(patterns.filter((route) => route.pattern.test(path)).map((r) => r.method)),
    ];
    if (allowed.length === 0) return next();
    if (allowed.includes("GET")) allowed.push("HEAD");
    c.header("Allow", allowed.join(", "));
    throw new ServiceError(
      "method_not_allowed",
      `${c.req.method} is not allowed here: use ${allowed.join(" or ")}.`,
    );
  };
}
