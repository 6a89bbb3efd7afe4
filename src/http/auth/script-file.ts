// The hosted pages' scripts are files, never inline (the CSP names each by
// its URL): served with their type and cached for good under the URL that
// carries their current hash (`?v=`), briefly under any other.
import type { Context } from "hono";

export function scriptFile(source: string, version: string) {
  return (c: Context) => {
    const current = c.req.query("v") === version;
    c.header(
      "Cache-Control",
      current ? "public, max-age=31536000, immutable" : "public, max-age=300",
    );
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(source);
  };
}
