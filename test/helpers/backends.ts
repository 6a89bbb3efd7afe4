// The storage backends every storage-touching suite runs against: embedded
// PGlite (in memory) and the real PostgreSQL server started by `npm test`
// (a fresh database per call, so test files run in parallel).
import { after, before, describe } from "node:test";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import type { Logger } from "../../src/logger.ts";
import type { Clock } from "../../src/sessions/service.ts";
import { type RunningGatehouse, startGatehouse } from "./gatehouse.ts";

export type Backend = { name: "pglite" | "postgres"; open(): Promise<DatabaseHandle> };

export async function createPostgresDatabase(): Promise<string> {
  const adminUrl = process.env.TEST_POSTGRES_URL;
  if (!adminUrl) throw new Error("TEST_POSTGRES_URL is not set: run the suite with `npm test`");
  const name = `gh_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

export const backends: Backend[] = [
  { name: "pglite", open: () => openDatabase({ kind: "pglite" }) },
  {
    name: "postgres",
    open: async () => openDatabase({ kind: "postgres", url: await createPostgresDatabase() }),
  },
];

export type Stack = { backend: Backend; database: DatabaseHandle; server: RunningGatehouse };

/**
 * One describe block per backend, each with its own database and a gatehouse
 * serving it over HTTP; `stack` is filled in before the first test runs.
 */
export function describeOnEachBackend(
  title: string,
  env: Record<string, string>,
  define: (stack: Stack) => void,
  options: { clock?: Clock; port?: number; logger?: Logger } = {},
): void {
  for (const backend of backends) {
    describe(`${title} (${backend.name})`, () => {
      const stack = { backend } as Stack;
      before(async () => {
        stack.database = await backend.open();
        stack.server = await startGatehouse(stack.database, env, options);
      });
      after(async () => {
        await stack.server?.stop();
        await stack.database?.close();
      });
      define(stack);
    });
  }
}
