// The demo application behind the proxy: answers every request with the
// headers it received, as JSON (and as a small HTML page for browsers).

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { closeServer } from "./http.ts";

export async function startEchoApp(): Promise<{
  url: string;
  port: number;
  stop(): Promise<void>;
}> {
  const server: Server = createServer((req, res) => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () => closeServer(server),
  };
}
