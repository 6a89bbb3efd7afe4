// DEV_BYPASS_USER: refused with production settings (by the config and by the
// server's start), and when on, visible everywhere: a warning per use,
// /readyz, /metrics and x-auth-bypass: true on every /_resolve answer. A real
// credential still answers as itself; an invalid one is still a 401.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { ConfigError, configWarnings, loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import {
  askResolve,
  bodyOf,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { V5_COOKIE, V5_SECRET } from "./tokens.ts";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

test("the bypass is refused with NODE_ENV=production or an https PUBLIC_URL", () => {
  const user = { DEV_BYPASS_USER: "dev@example.com" };
  assert.deepEqual(problemsOf(user), []);
  assert.match(
    problemsOf({ ...user, NODE_ENV: "production" }).join("\n"),
    /DEV_BYPASS_USER: refused with NODE_ENV=production/,
  );
  assert.match(
    problemsOf({ ...user, PUBLIC_URL: "https://auth.example.com" }).join("\n"),
    /DEV_BYPASS_USER: refused with an https PUBLIC_URL/,
  );
  assert.equal(
    problemsOf({ ...user, NODE_ENV: "production", PUBLIC_URL: "https://a.example.com" }).length,
    2,
  );
  assert.match(
    problemsOf({ DEV_BYPASS_ROLES: "admin" }).join("\n"),
    /DEV_BYPASS_ROLES: only makes sense with DEV_BYPASS_USER/,
  );
  // Set in the YAML file rather than the environment: refused all the same.
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-bypass-yaml-"));
  try {
    const file = join(dir, "gatehouse.yaml");
    writeFileSync(file, "dev_bypass_user: dev@example.com\npublic_url: https://auth.example.com\n");
    assert.match(
      problemsOf({ GATEHOUSE_CONFIG: file }).join("\n"),
      /DEV_BYPASS_USER: refused with an https/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("check-config warns while the bypass is on", () => {
  const warnings = configWarnings(loadConfig({ DEV_BYPASS_USER: "dev@example.com" }));
  assert.ok(
    warnings.some((warning) =>
      /DEV_BYPASS_USER: every request without a credential resolves as dev@example.com/.test(
        warning,
      ),
    ),
  );
  assert.ok(!configWarnings(loadConfig({})).some((warning) => warning.includes("DEV_BYPASS")));
  const exposed = configWarnings(loadConfig({ DEV_BYPASS_USER: "dev", HOST: "0.0.0.0" }));
  assert.ok(exposed.some((warning) => /listens on 0\.0\.0\.0, beyond this machine/.test(warning)));
});

test("the server refuses to start with the bypass and production settings", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-bypass-"));
  try {
    for (const env of [{ NODE_ENV: "production" }, { PUBLIC_URL: "https://auth.example.com" }]) {
      const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env: {
          ...process.env,
          DATA_DIR: dataDir,
          PORT: "0",
          DEV_BYPASS_USER: "dev@example.com",
          ...env,
        },
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /DEV_BYPASS_USER: refused/);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe("with the bypass on", () => {
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;
  let plain: RunningGatehouse;
  const lines: string[] = [];
  const developer = uniqueEmail("developer");

  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    plain = await startGatehouse(database, { AUTHJS_SECRET: V5_SECRET });
    await register(plain.url, developer);
    gatehouse = await startGatehouse(
      database,
      {
        DEV_BYPASS_USER: developer,
        AUTHJS_SECRET: V5_SECRET,
        RULES: "[{ path: /admin/**, roles: [admin] }, { path: /closed/**, access: deny }]",
      },
      { logger: pino({ level: "warn" }, { write: (line: string) => lines.push(line) }) },
    );
  });

  after(async () => {
    await gatehouse?.stop();
    await plain?.stop();
    await database?.close();
  });

  test("a request without a credential resolves as the named account, with a warning each time", async () => {
    lines.length = 0;
    for (let i = 0; i < 3; i++) {
      const response = await askResolve(gatehouse.url, "/anything");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-auth-bypass"), "true");
      assert.equal(response.headers.get("x-auth-email"), developer);
      assert.match(response.headers.get("x-auth-user-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get("x-auth-method"), "dev-bypass");
    }
    const warnings = lines.filter((line) => line.includes("DEV_BYPASS_USER"));
    assert.equal(warnings.length, 3, "one warning per use");
  });

  test("every answer carries x-auth-bypass: 401, 403 and a real session's 200 too", async () => {
    const invalid = await askResolve(gatehouse.url, "/anything", {
      cookie: `${V5_COOKIE}=junk.a.b.c.d`,
    });
    assert.equal(invalid.status, 401, "an invalid credential is still refused");
    assert.equal(invalid.headers.get("x-auth-bypass"), "true");
    const badBearer = await askResolve(gatehouse.url, "/anything", {
      authorization: "Bearer nope",
    });
    assert.equal(badBearer.status, 401);
    assert.equal(badBearer.headers.get("x-auth-bypass"), "true");
    const denied = await askResolve(gatehouse.url, "/closed/x");
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get("x-auth-bypass"), "true");
    const noRole = await askResolve(gatehouse.url, "/admin/x");
    assert.equal(noRole.status, 403, "the account's roles, not more");
    const someone = uniqueEmail("real");
    const session = await register(gatehouse.url, someone);
    const real = await askResolve(gatehouse.url, "/anything", { cookie: session });
    assert.equal(real.headers.get("x-auth-email"), someone, "a real session answers as itself");
    assert.equal(real.headers.get("x-auth-method"), "password");
    assert.equal(real.headers.get("x-auth-bypass"), "true");
    // Without the bypass: no such header.
    const off = await askResolve(plain.url, "/anything", { cookie: session });
    assert.equal(off.headers.get("x-auth-bypass"), null);
  });

  test("/readyz and /metrics show it", async () => {
    const ready = await bodyOf(await fetch(`${gatehouse.url}/readyz`));
    assert.equal(ready.devBypass, developer);
    const metrics = await (await fetch(`${gatehouse.url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`gatehouse_dev_bypass\\{user="${developer.replaceAll(".", "\\.")}"\\} 1`),
    );
    assert.match(metrics, /gatehouse_dev_bypass_total \d+/);
    const plainReady = await bodyOf(await fetch(`${plain.url}/readyz`));
    assert.equal(plainReady.devBypass, undefined);
    assert.match(
      await (await fetch(`${plain.url}/metrics`)).text(),
      /gatehouse_dev_bypass\{user=""\} 0/,
    );
  });

  test("a user without an account is made up from the setting, with DEV_BYPASS_ROLES", async () => {
    const madeUp = await startGatehouse(database, {
      DEV_BYPASS_USER: "local-dev-1",
      DEV_BYPASS_ROLES: "admin,writer",
      RULES: "[{ path: /admin/**, roles: [admin] }]",
    });
    try {
      const response = await askResolve(madeUp.url, "/admin/x");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-auth-user-id"), "local-dev-1");
      assert.equal(response.headers.get("x-auth-email"), "");
      assert.equal(response.headers.get("x-auth-roles"), "admin,writer");
    } finally {
      await madeUp.stop();
    }
  });
});
