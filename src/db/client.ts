// Builds the database handle: PGlite in DATA_DIR by default, PostgreSQL through
// postgres.js when DATABASE_URL is set. Both share the schema and migrations;
// this is the only place where they differ.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseHandle = {
  db: Database;
  kind: "pglite" | "postgres";
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

// An arbitrary constant: replicas starting together take turns migrating.
const MIGRATION_LOCK_ID = 4_180_001;

export type DatabaseOptions =
  | { kind: "pglite"; dataDir?: string } // no dataDir: in memory (tests)
  | { kind: "postgres"; url: string; maxConnections?: number };

/**
 * The embedded database is a sidecar's: one session (PGlite has one
 * connection) and small buffers, its files being in the kernel's page cache
 * anyway. PostgreSQL's defaults (128 MB of shared buffers, 100 connections)
 * would make it most of the process.
 */
const PGLITE_SETTINGS = [
  ["shared_buffers", "16MB"],
  ["maintenance_work_mem", "16MB"],
  ["max_connections", "1"],
  ["superuser_reserved_connections", "0"],
  ["reserved_connections", "0"],
  ["max_wal_senders", "0"],
  ["autovacuum_max_workers", "1"],
].flatMap(([name, value]) => ["-c", `${name}=${value}`]);

/**
 * PGlite is PostgreSQL compiled to WebAssembly. V8 first compiles it with its
 * baseline compiler, then recompiles hot functions with its optimising one;
 * for PostgreSQL's largest functions that takes hundreds of megabytes for a
 * moment (a 700 MB peak on a 140 MB process) and keeps 60 MB more, for
 * queries that spend their time in JavaScript anyway. The baseline code is
 * kept. Set before the module is compiled; PostgreSQL through postgres.js
 * never loads WebAssembly.
 */
function baselineWebAssemblyOnly(): void {
  setFlagsFromString("--no-wasm-tier-up");
  setFlagsFromString("--no-wasm-dynamic-tiering");
}

/**
 * A new data directory starts from a copy of initdb's output that `npm run
 * build` made (scripts/pglite-template.mjs) for the installed PGlite, instead
 * of running initdb here: PGlite's initdb runs a second PostgreSQL and copies
 * its memory, which doubled the first start's peak. From src/, or for another
 * PGlite version, there is no copy and PGlite runs initdb itself.
 */
function pgliteTemplate(dataDir: string): Blob | undefined {
  if (existsSync(join(dataDir, "PG_VERSION"))) return undefined;
  const { version } = JSON.parse(
    readFileSync(new URL("../package.json", import.meta.resolve("@electric-sql/pglite")), "utf8"),
  ) as { version: string };
  const template = new URL(`./pglite-${version}.tar.gz`, import.meta.url);
  return existsSync(template) ? new Blob([readFileSync(template)]) : undefined;
}

/** Opens the database and applies pending migrations. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.kind === "pglite") {
    baselineWebAssemblyOnly();
    const unlock = options.dataDir ? lockDataDir(options.dataDir) : () => {};
    const client = new PGlite({
      dataDir: options.dataDir,
      startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS],
      loadDataDir: options.dataDir ? pgliteTemplate(options.dataDir) : undefined,
    });
    const db = drizzlePglite(client, { schema });
    await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
    return {
      db: db as unknown as Database,
      kind: "pglite",
      ping: async () => {
        await db.execute(sql`select 1`);
      },
      close: async () => {
        await client.close();
        unlock();
      },
    };
  }
  await migrateWithLock(options.url);
  const client = postgres(options.url, {
    max: options.maxConnections ?? 10,
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: () => {},
  });
  const db = drizzlePostgres(client, { schema });
  return {
    db: db as unknown as Database,
    kind: "postgres",
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * PGlite is one process's database: a second process opening the same
 * directory (a second server, or the CLI while the server runs) would corrupt
 * it. A pid file refuses that with a clear message.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "gatehouse.pid");
  try {
    const holder = Number(readFileSync(file, "utf8"));
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder))
      throw new DataDirInUse(
        `${dataDir} is in use by process ${holder}: the embedded database allows one process at a time (stop it first, or use DATABASE_URL; if that process is not gatehouse, remove ${file})`,
      );
  } catch (error) {
    if (error instanceof DataDirInUse) throw error;
  }
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}

export class DataDirInUse extends Error {}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function migrateWithLock(url: string): Promise<void> {
  const client = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder: MIGRATIONS_FOLDER });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}
