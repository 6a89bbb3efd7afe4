// AUTH_PREFIX/brand/<brand>/<file>: a brand's logo, favicon, stylesheet and
// what that stylesheet uses, from the brand's directory (brands.ts decides
// which files exist). Linked with ?v=<content hash>, so a request with the
// current hash may be cached for a year; any other, for five minutes. An
// SVG gets a CSP of its own: opened directly, it can run no script.
import { Hono } from "hono";
import type { Brands } from "../../branding/brands.ts";
import { ServiceError } from "../../errors.ts";
import type { AuthEnv } from "./kit.ts";

export const SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'";

export function brandAssetRoutes(brands: Brands) {
  const app = new Hono<AuthEnv>();
  app.get("/brand/:brand/:file", (c) => {
    const file = brands.asset(c.req.param("brand"), c.req.param("file"));
    if (!file) throw new ServiceError("not_found", "No such file.");
    c.header(
      "Cache-Control",
      c.req.query("v") === file.version
        ? "public, max-age=31536000, immutable"
        : "public, max-age=300",
    );
    c.header("ETag", file.etag);
    c.header("X-Content-Type-Options", "nosniff");
    if (file.type.startsWith("image/svg+xml")) c.header("Content-Security-Policy", SVG_POLICY);
    const asked = c.req.header("if-none-match") ?? "";
    if (asked.split(",").some((tag) => tag.trim().replace(/^W\//, "") === file.etag))
      return c.body(null, 304);
    c.header("Content-Type", file.type);
    return c.body(new Uint8Array(file.body));
  });
  return app;
}
