// Serves gatehouse over HTTP with the timeouts a proxy expects. /_resolve,
// the proxy's subrequest on every request, is answered on node:http itself;
// everything else goes through Hono's adapter.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Gatehouse } from "./app.ts";

/** Longer than nginx's 60 s upstream keepalive, so the proxy always closes idle connections first. */
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;

/** A Content-Length above 0, or a chunked body. */
function announcesBody(incoming: IncomingMessage): boolean {
  const length = incoming.headers["content-length"];
  return (
    (length !== undefined && length !== "0") || incoming.headers["transfer-encoding"] !== undefined
  );
}

/**
 * An answer given before the request's body has arrived in full (413 on the
 * declared size, 401/403/404/415 before reading, a body deadline) ends the
 * connection: the unread rest cannot be left for the next request to trip
 * over, and a keep-alive answer followed by a dropped socket breaks the
 * client's next request on it. Decided just before the head is written,
 * whichever handler writes it.
 */
function closeWhenBodyUnread(request: IncomingMessage, response: ServerResponse): void {
  if (!announcesBody(request)) return;
  const writeHead = response.writeHead;
  response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!request.complete && !this.headersSent) this.setHeader("Connection", "close");
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["writeHead"];
}

export async function startServer(
  gatehouse: Gatehouse,
  options: { port: number; host: string },
): Promise<{ server: Server; port: number }> {
  const framework = getRequestListener(gatehouse.app.fetch, { hostname: options.host });
  const server = createServer((req, res) => {
    // First, whichever handler answers; requests without a body (every
    // /_resolve from a proxy) are left alone.
    closeWhenBodyUnread(req, res);
    if (isResolve(req)) gatehouse.resolve(req, res);
    else if (!gatehouse.shed(req, res)) void framework(req, res);
  });
  server.listen(options.port, options.host);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 5_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function isResolve(req: IncomingMessage): boolean {
  const url = req.url ?? "";
  return url.startsWith("/_resolve") && (url.length === 9 || url.charCodeAt(9) === 63);
}
