// The compiled server, as `npm start`, the Docker image and the `gatehouse`
// command run it: dist/ built by scripts/build.mjs, on the embedded database
// in a new directory (created from the build's template). Everything that is
// not TypeScript must be found from dist/ too: the migrations, the password
// blocklist, the hashing worker.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { askResolve, bodyOf, register, uniqueEmail } from "../helpers/gatehouse.ts";
import { freePort } from "../helpers/ports.ts";
import { type RunningProcess, startProcess } from "../helpers/process.ts";

const run = promisify(execFile);
const BIN = "bin/gatehouse.mjs";

async function gatehouse(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, LOG_LEVEL: "silent", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("the compiled gatehouse", () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "gatehouse-compiled-")), "data");
  let server: RunningProcess;
  let url: string;

  before(async () => {
    await run(process.execPath, ["scripts/build.mjs", "--if-needed"]);
    const port = await freePort();
    server = await startProcess({
      command: process.execPath,
      args: [BIN],
      port,
      env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn" },
      // A first start compiles PostgreSQL's WebAssembly: slow on a busy machine.
      startTimeoutMs: 60_000,
    });
    url = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await server?.stop();
    rmSync(join(dataDir, ".."), { recursive: true, force: true });
  });

  test("dist/ holds JavaScript only, with its assets and the database template", () => {
    assert.ok(existsSync("dist/main.js") && existsSync("dist/cli.js"));
    assert.ok(existsSync("dist/accounts/common-passwords.txt"));
    assert.ok(existsSync("dist/accounts/hash-worker.js"));
    assert.ok(readdirSync("dist/db").some((name) => /^pglite-[\d.]+\.tar\.gz$/.test(name)));
    const typescript = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? typescript(join(dir, entry.name))
          : entry.name.endsWith(".ts")
            ? [entry.name]
            : [],
      );
    assert.deepEqual(typescript("dist"), []);
  });

  test("serves on a new embedded database: migrations, blocklist, hashing worker", async () => {
    assert.ok(existsSync(join(dataDir, "PG_VERSION")), "the data directory was created");
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const common = await fetch(`${url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: uniqueEmail(), password: "password123" }),
    });
    assert.equal(common.status, 400, "the blocklist is read from dist/");
    assert.match(JSON.stringify(await bodyOf(common)), /common/i);
    const email = uniqueEmail();
    const cookie = await register(url, email);
    const answer = await askResolve(url, "/page", { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("x-auth-email"), email);
  });

  test("the gatehouse command: check-config, the CLI's subcommands, usage errors", async () => {
    const checked = await gatehouse({ DATA_DIR: dataDir }, "check-config");
    assert.equal(checked.code, 0);
    assert.match(checked.stdout, /configuration is valid/);
    const help = await gatehouse({}, "--help");
    assert.match(help.stdout, /keys rotate/);
    const wrong = await gatehouse({ DATA_DIR: dataDir }, "keys", "list", "--no-such-option");
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /no-such-option/);
    // The running server holds the embedded database: the command runs in it, over its admin channel.
    const busy = await gatehouse({ DATA_DIR: dataDir }, "keys", "list");
    assert.equal(busy.code, 0, busy.stderr);
    assert.match(busy.stdout, /\(signing\)/);
  });
});
