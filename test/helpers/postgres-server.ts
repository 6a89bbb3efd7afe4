// A real PostgreSQL server for the test suite: initdb + pg_ctl on a temporary
// directory and a free loopback port. As root, the server runs as the
// `postgres` user (PostgreSQL refuses to run as root).
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

function findBinary(name: string): string {
  const candidates = [
    ...readdirSync("/usr/lib/postgresql", { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join("/usr/lib/postgresql", entry.name, "bin", name))
      .sort()
      .reverse(),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found)
    throw new Error(`${name} not found: install PostgreSQL (apt-get install -y postgresql)`);
  return found;
}

export type PostgresServer = {
  url: string;
  /** Stops the server, keeping its data (a database outage). */
  pause(): void;
  /** Starts it again on the same port and data. */
  resume(): void;
  stop(): Promise<void>;
};

export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-pg-"));
  const dataDir = join(dir, "data");
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (binary: string, args: string[]) => {
    const command = asRoot ? "runuser" : binary;
    const fullArgs = asRoot ? ["-u", "postgres", "--", binary, ...args] : args;
    execFileSync(command, fullArgs, { stdio: ["ignore", "ignore", "pipe"] });
  };
  if (asRoot) {
    const { uid, gid } = userIds("postgres");
    chmodSync(dir, 0o755);
    chownSync(dir, uid, gid);
  }
  run(findBinary("initdb"), [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync",
  ]);
  const start = () =>
    run(findBinary("pg_ctl"), [
      "-D",
      dataDir,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`,
      "start",
    ]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pause: () => run(findBinary("pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"]),
    resume: start,
    async stop() {
      try {
        run(findBinary("pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", name]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", name]).toString().trim());
  return { uid, gid };
}
