// Traefik cannot be installed here: this harness reproduces Traefik v3's
// ForwardAuth middleware (pkg/middlewares/auth/forward.go) header for header,
// driven by the shipped deploy/traefik/dynamic.yml. What it reproduces:
// - the auth request is a GET to `address` with the client's headers minus
//   hop-by-hop ones (only those in authRequestHeaders, when set), and
//   X-Forwarded-For/-Method/-Proto/-Host/-Uri set from the request, or kept
//   from the client only with trustForwardHeader;
// - any answer outside [200, 300) goes to the client as it is: status, headers
//   (minus hop-by-hop), Location, body;
// - on 2xx, each authResponseHeaders name is deleted from the request and
//   copied from the answer when present; then every request header whose
//   canonical name matches authResponseHeadersRegex is deleted and every
//   matching answer header copied;
// - an unreachable auth server is a 500.
// Routers are read from the same file: PathPrefix/Path rules of the router
// without the middleware send /auth/* straight to gatehouse.

import { readFileSync } from "node:fs";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import { parse } from "yaml";
import { closeServer } from "./http.ts";

const HOP_HEADERS = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Go's http.CanonicalHeaderKey: upper-case the first letter and each letter after "-". */
export function canonicalHeaderKey(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  return name
    .toLowerCase()
    .replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

type ForwardAuthConfig = {
  address: string;
  trustForwardHeader?: boolean;
  authResponseHeaders?: string[];
  authResponseHeadersRegex?: string;
  authRequestHeaders?: string[];
};

function goRegex(source: string): RegExp {
  // Go's (?i) prefix becomes the JavaScript i flag.
  return source.startsWith("(?i)") ? new RegExp(source.slice(4), "i") : new RegExp(source);
}

function withoutHop(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_HEADERS.includes(name)) out[name] = value;
  }
  return out;
}

function send(
  url: URL,
  method: string,
  headers: Record<string, string | string[]>,
  body?: IncomingMessage,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, host: url.host } }, resolve);
    req.on("error", reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

export async function startTraefikHarness(options: {
  gatehousePort: number;
  appPort: number;
  port: number;
}) {
  const dynamic = parse(readFileSync("deploy/traefik/dynamic.yml", "utf8"));
  const auth: ForwardAuthConfig = dynamic.http.middlewares.gatehouse.forwardAuth;
  const address = new URL(
    auth.address.replace("gatehouse:4180", `127.0.0.1:${options.gatehousePort}`),
  );
  const regex = auth.authResponseHeadersRegex ? goRegex(auth.authResponseHeadersRegex) : undefined;
  const pagesRule: string = dynamic.http.routers["gatehouse-pages"].rule;
  const prefixes = [...pagesRule.matchAll(/PathPrefix\(`([^`]+)`\)/g)].map((m) => m[1] as string);
  const paths = [...pagesRule.matchAll(/(?<!Prefix)Path\(`([^`]+)`\)/g)].map((m) => m[1] as string);
  const gatehouse = `http://127.0.0.1:${options.gatehousePort}`;
  const app = `http://127.0.0.1:${options.appPort}`;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const headers = withoutHop(req.headers);
    const clientIp = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    const forwardedFor =
      auth.trustForwardHeader && req.headers["x-forwarded-for"]
        ? `${req.headers["x-forwarded-for"]}, ${clientIp}`
        : clientIp;
    if (prefixes.some((p) => path.startsWith(p)) || paths.includes(path)) {
      const upstream = await send(
        new URL(req.url ?? "/", gatehouse),
        req.method ?? "GET",
        {
          ...headers,
          "x-forwarded-for": forwardedFor,
          "x-forwarded-host": req.headers.host ?? "",
          "x-forwarded-proto": "http",
        },
        req,
      );
      res.writeHead(upstream.statusCode ?? 502, withoutHop(upstream.headers));
      upstream.pipe(res);
      return;
    }
    const trusted = (name: string, fallback: string) => {
      const value = req.headers[name];
      return auth.trustForwardHeader && typeof value === "string" && value !== ""
        ? value
        : fallback;
    };
    // filterForwardRequestHeaders: with authRequestHeaders, only those client headers go to the auth server.
    const allowed = auth.authRequestHeaders?.map((name) => name.toLowerCase());
    const passed = allowed
      ? Object.fromEntries(Object.entries(headers).filter(([name]) => allowed.includes(name)))
      : headers;
    const authHeaders: Record<string, string | string[]> = {
      ...passed,
      "x-forwarded-for": forwardedFor,
      "x-forwarded-method": trusted("x-forwarded-method", req.method ?? "GET"),
      "x-forwarded-proto": trusted("x-forwarded-proto", "http"),
      "x-forwarded-host": trusted("x-forwarded-host", req.headers.host ?? ""),
      "x-forwarded-uri": trusted("x-forwarded-uri", req.url ?? "/"),
    };
    if (!auth.trustForwardHeader) delete authHeaders["x-forwarded-port"];
    let answer: IncomingMessage;
    try {
      answer = await send(address, "GET", authHeaders);
    } catch {
      res.writeHead(500).end();
      return;
    }
    const body = await readAll(answer);
    const status = answer.statusCode ?? 500;
    if (status < 200 || status >= 300) {
      res.writeHead(status, withoutHop(answer.headers)).end(body);
      return;
    }
    const forwarded: Record<string, string | string[]> = { ...headers };
    for (const name of auth.authResponseHeaders ?? []) {
      const key = name.toLowerCase();
      delete forwarded[key];
      const value = answer.headers[key];
      if (value !== undefined) forwarded[key] = value;
    }
    if (regex) {
      for (const name of Object.keys(forwarded))
        if (regex.test(canonicalHeaderKey(name))) delete forwarded[name];
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && regex.test(canonicalHeaderKey(name))) forwarded[name] = value;
      }
    }
    const upstream = await send(new URL(req.url ?? "/", app), req.method ?? "GET", forwarded, req);
    res.writeHead(upstream.statusCode ?? 502, withoutHop(upstream.headers));
    upstream.pipe(res);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve));
  return {
    stop: () => closeServer(server),
  };
}
