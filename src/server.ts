// Serves a gatehouse app over HTTP with the timeouts a proxy expects.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Gatehouse } from "./app.ts";

/** Longer than nginx's 60 s upstream keepalive, so the proxy always closes idle connections first. */
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;

export async function startServer(
  gatehouse: Gatehouse,
  options: { port: number; host: string },
): Promise<{ server: Server; port: number }> {
  const server = serve({
    fetch: gatehouse.app.fetch,
    port: options.port,
    hostname: options.host,
  }) as Server;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 5_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  return { server, port: (server.address() as AddressInfo).port };
}
