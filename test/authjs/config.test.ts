// The Auth.js settings: read from the environment, every problem reported at
// once, names that reach SQL only when they are plain identifiers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, configWarnings, loadConfig } from "../../src/config.ts";

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join("\n");
    throw error;
  }
  return "";
}

test("defaults: off, Auth.js's cookie names, 30 days, a 60 s user cache", () => {
  const config = loadConfig({});
  assert.deepEqual(config.authjs_secret, []);
  assert.equal(config.authjs_token_format, "auto");
  assert.equal(config.authjs_max_age, 30 * 86400);
  assert.equal(config.authjs_user_check, false);
  assert.equal(config.authjs_user_cache_ttl, 60);
  assert.equal(config.authjs_user_id_column, "id");
});

test("secrets are a list, newest first", () => {
  const config = loadConfig({
    AUTHJS_SECRET: "new-secret-xxxxxxxxxxxxxxxxxxxxxxxxxx, old-secret-xxxxxxxxxxxxxxxxxxxxxxxxxx",
  });
  assert.deepEqual(config.authjs_secret, [
    "new-secret-xxxxxxxxxxxxxxxxxxxxxxxxxx",
    "old-secret-xxxxxxxxxxxxxxxxxxxxxxxxxx",
  ]);
});

test("every Auth.js problem at once", () => {
  const text = problemsOf({
    AUTHJS_COOKIE_NAME: "bad name;",
    AUTHJS_TOKEN_FORMAT: "v3",
    AUTHJS_MAX_AGE: "10s",
    AUTHJS_USER_CHECK: "true",
    AUTHJS_USER_TABLE: 'users"; drop table users; --',
    AUTHJS_USER_ID_COLUMN: "a.b",
    AUTHJS_USER_DISABLED_COLUMN: "x y",
    AUTHJS_DATABASE_URL: "mysql://db/app",
  });
  for (const name of [
    "AUTHJS_COOKIE_NAME",
    "AUTHJS_TOKEN_FORMAT",
    "AUTHJS_MAX_AGE",
    "AUTHJS_USER_TABLE",
    "AUTHJS_USER_ID_COLUMN",
    "AUTHJS_USER_DISABLED_COLUMN",
    "AUTHJS_DATABASE_URL",
  ])
    assert.match(text, new RegExp(`${name}:`), name);
});

test("settings that need the secret or the database say so", () => {
  assert.match(
    problemsOf({ AUTHJS_ROLES_CLAIM: "role", AUTHJS_COOKIE_NAME: "app.sid" }),
    /AUTHJS_SECRET: AUTHJS_COOKIE_NAME, AUTHJS_ROLES_CLAIM need the Auth\.js app's secret/,
  );
  assert.match(
    problemsOf({ AUTHJS_SECRET: "s".repeat(32), AUTHJS_USER_CHECK: "true" }),
    /AUTHJS_DATABASE_URL: AUTHJS_USER_CHECK needs the Auth\.js app's database/,
  );
  const ok = loadConfig({
    AUTHJS_SECRET: "s".repeat(32),
    AUTHJS_USER_CHECK: "true",
    AUTHJS_DATABASE_URL: "postgres://app@db/app",
    AUTHJS_USER_TABLE: "auth.users",
    AUTHJS_USER_DISABLED_COLUMN: "banned",
  });
  assert.equal(ok.authjs_user_table, "auth.users");
});

test("check-config warns about a short secret and about running without the user check", () => {
  const warnings = configWarnings(loadConfig({ AUTHJS_SECRET: "short" })).join("\n");
  assert.match(warnings, /AUTHJS_SECRET: a secret shorter than 32 characters/);
  assert.match(
    warnings,
    /AUTHJS_USER_CHECK is off: a user deleted from the Auth\.js app keeps resolving until the token expires/,
  );
  assert.doesNotMatch(configWarnings(loadConfig({})).join("\n"), /AUTHJS/);
});
