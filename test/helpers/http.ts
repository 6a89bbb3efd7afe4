// Plain node:http for what fetch cannot do in a test: send headers fetch
// rewrites (Sec-Fetch-Mode) or refuses (underscores), and see framing headers.
import { type IncomingHttpHeaders, request, type Server } from "node:http";

export type RawResponse = { status: number; headers: IncomingHttpHeaders; body: string };

export function rawRequest(
  url: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Closes a server now, dropping kept-alive connections instead of waiting for them. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** A JSON POST, with the session cookie when given (fetch options). */
export const postJson = (body: unknown, cookie?: string) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
  body: JSON.stringify(body),
});

/** A form post as the hosted pages send it (fetch options, redirects not followed). */
export const postForm = (fields: Record<string, string>, cookie?: string) => ({
  method: "POST",
  headers: {
    "content-type": "application/x-www-form-urlencoded",
    "sec-fetch-site": "same-origin",
    ...(cookie ? { cookie } : {}),
  },
  body: new URLSearchParams(fields).toString(),
  redirect: "manual" as const,
});
