// `npm test`: starts the real servers the suite shares (a PostgreSQL server on
// a temporary directory and a free loopback port), runs every test file with
// Node's test runner, and stops the servers again, whatever the outcome.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
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
let status = 1;
try {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=120000", ...files],
    { stdio: "inherit", env: { ...process.env, TEST_POSTGRES_URL: postgres.url } },
  );
  status = result.status ?? 1;
} finally {
  await postgres.stop();
}
process.exit(status);
