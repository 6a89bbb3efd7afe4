// Starts gatehouse over real HTTP on a free loopback port, with a config
// built by loadConfig from an environment, exactly as main.ts does.

import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { createGatehouse, type Gatehouse } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import type { Clock } from "../../src/kernel/clock.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import type { SharedRedis } from "../../src/redis/client.ts";
import { startServer } from "../../src/server.ts";
import { closeServer } from "./http.ts";
import { freePort } from "./ports.ts";

export type RunningGatehouse = {
  url: string;
  port: number;
  gatehouse: Gatehouse;
  stop(): Promise<void>;
};

export async function startGatehouse(
  database: DatabaseHandle,
  env: Record<string, string> = {},
  options: { clock?: Clock; port?: number; redis?: SharedRedis; logger?: Logger } = {},
): Promise<RunningGatehouse> {
  const port = options.port ?? (await freePort());
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: "silent",
    OUTBOX_DIR: process.env.OUTBOX_DIR ?? join(tmpdir(), "gatehouse-test-outbox"),
    ...env,
  });
  const gatehouse = await createGatehouse({
    config,
    database,
    logger: options.logger ?? createLogger(config.log_level),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.redis ? { redis: options.redis } : {}),
  });
  const { server, port: actualPort } = await startServer(gatehouse, { port, host: "127.0.0.1" });
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    gatehouse,
    stop: async () => {
      gatehouse.close();
      await closeServer(server);
    },
  };
}

/** The session cookie a response set, as "name=value" for a Cookie header. */
export function sessionCookie(response: Response): string {
  const header = response.headers.getSetCookie().find((cookie) => /session=[^;]+/.test(cookie));
  if (!header) throw new Error(`no session cookie in ${response.status} response`);
  return header.split(";")[0] as string;
}

let counter = 0;
/** A fresh address for each test, so suites never share rows. */
export function uniqueEmail(tag = "user"): string {
  counter += 1;
  return `${tag}.${process.pid}.${counter}.${Math.random().toString(36).slice(2, 8)}@example.test`;
}

export const GOOD_PASSWORD = "a long and uncommon passphrase 42";

export async function register(
  base: string,
  email: string,
  password = GOOD_PASSWORD,
): Promise<string> {
  const response = await fetch(`${base}/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 201)
    throw new Error(`register failed: ${response.status} ${await response.text()}`);
  return sessionCookie(response);
}

export async function login(
  base: string,
  email: string,
  password = GOOD_PASSWORD,
): Promise<Response> {
  return fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
}

/** A response's JSON body, untyped: tests assert on its shape. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary fields
export const bodyOf = (response: Response): Promise<any> => response.json();

/** Asks /_resolve about an original request on app.example.test, as nginx's shipped config does. */
export function askResolve(base: string, uri: string, headers: Record<string, string> = {}) {
  return fetch(`${base}/_resolve`, {
    headers: {
      "x-original-uri": uri,
      "x-original-method": "GET",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "app.example.test",
      ...headers,
    },
    redirect: "manual",
  });
}

/**
 * Marks an address verified straight in SQL, as if its owner had followed the
 * link (API keys and provider links need a verified address), and lets the
 * account's sessions see it at once, as the link does.
 */
export async function markVerified(server: RunningGatehouse, email: string): Promise<void> {
  const { database, sessions } = server.gatehouse;
  const rows = await database.db
    .update(users)
    .set({ emailVerified: true })
    .where(eq(users.email, email))
    .returning({ id: users.id });
  for (const row of rows) await sessions.refreshUser(row.id);
}
