// `npm test`: starts the real servers the suite shares (a PostgreSQL server on
// a temporary directory and a free loopback port), runs every test file with
// Node's test runner, and stops the servers again, whatever the outcome.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres } from "../test/helpers/postgres-server.ts";

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return testFiles(path);
      return name.endsWith(".test.ts") ? [path] : [];
    })
    .sort();
}

const filters = process.argv.slice(2);
const files = testFiles("test").filter(
  (file) => filters.length === 0 || filters.some((f) => file.includes(f)),
);
const postgres = await startPostgres();
// Mail written by gatehouse processes without SMTP lands here, not in the work tree.
const outbox = mkdtempSync(join(tmpdir(), "gatehouse-outbox-"));
let status = 1;
try {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=120000", ...files],
    {
      stdio: "inherit",
      env: { ...process.env, TEST_POSTGRES_URL: postgres.url, OUTBOX_DIR: outbox },
    },
  );
  status = result.status ?? 1;
} finally {
  await postgres.stop();
  rmSync(outbox, { recursive: true, force: true });
}
process.exit(status);
