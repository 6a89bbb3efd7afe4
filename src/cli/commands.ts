// The operator's commands, on the same configuration as the server:
//   keys rotate | keys list
//   api-keys create --email E --name N [--expires-in-days D]
//   api-keys list --email E | api-keys revoke --email E ID
//   users set-roles --email E ROLE[,ROLE...]   (an empty string clears them)
//   users disable --email E | users enable --email E
//   factors list --email E | factors reset --email E
//   passkeys list --email E | passkeys reset --email E
// With the embedded database, stop the server first (one process at a time).
// With Redis configured, what the CLI revokes reaches every replica at once
// (as a replica's own revocations do); without it, each replica's memory lets
// a revoked session or key live at most SESSION_CACHE_TTL. `runCommand`
// takes the arguments and the environment and returns the exit code, so the
// entry point (cli.ts) and the tests run the same code.
import { parseArgs } from "node:util";
import { eq } from "drizzle-orm";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { createUserAdmin } from "../accounts/admin.ts";
import type { Audit } from "../accounts/audit.ts";
import { canonicalizeEmail } from "../accounts/email.ts";
import { createLoginThrottle } from "../accounts/login-throttle.ts";
import { createApiKeyService } from "../api-keys/service.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { type DatabaseHandle, DataDirInUse, openDatabase } from "../db/client.ts";
import { auditEvents, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { createMailer } from "../mail/mailer.ts";
import { loadTemplates } from "../mail/templates.ts";
import { createPendingSignIns } from "../mfa/pending.ts";
import { createSecondFactors } from "../mfa/service.ts";
import { passkeyAdmin } from "../passkeys/operator.ts";
import { connectRedis, type SharedRedis } from "../redis/client.ts";
import { REVOKED_CHANNEL, type RevokedMessage } from "../redis/revocations.ts";
import { redisCachedSessionStore } from "../sessions/redis-cache.ts";
import { createSessionService, type SessionService } from "../sessions/service.ts";
import { sqlSessionStore } from "../sessions/store.ts";
import { loadKeyRing, rotateSigningKey } from "../signing-keys/key-ring.ts";

const USAGE = `usage: gatehouse <command>
  keys rotate                                   sign with a new key; the old one stays published
  keys list                                     the published signing keys
  api-keys create --email E --name N [--expires-in-days D]
  api-keys list --email E
  api-keys revoke --email E ID
  users set-roles --email E ROLE[,ROLE...]      replace a user's roles ("" clears them)
  users disable --email E                       refuse sign-ins; revoke its sessions, stop its keys
  users enable --email E                        allow sign-ins again (keys work again)
  factors list --email E                        the user's second factors
  factors reset --email E                       remove every second factor (after checking
                                                who asks, out of band); the user sets them up again
  passkeys list --email E                       a user's passkeys
  passkeys reset --email E                      remove all of a user's passkeys and end their sessions`;

const REDIS_WAIT_MS = 3_000;

/** Redis when configured and reachable within a moment, so revocations reach every replica; null otherwise. */
async function sharedRedis(
  config: ReturnType<typeof loadConfig>,
  printError: (line: string) => void,
): Promise<SharedRedis | null> {
  const redis = connectRedis(config, createLogger("silent"));
  if (!redis) return null;
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REDIS_WAIT_MS);
    redis.onReady(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (ready) return redis;
  await redis.close();
  printError("Redis cannot be reached: replicas drop what this revokes within SESSION_CACHE_TTL");
  return null;
}

class UsageError extends Error {}

/**
 * Second factors for the operator: the reset is audited and the user told by
 * mail; `settle` waits for both before the process ends.
 */
function factorsOf(
  config: ReturnType<typeof loadConfig>,
  database: DatabaseHandle,
  sessions: SessionService,
) {
  const clock = { now: () => Date.now() };
  const writes: Promise<unknown>[] = [];
  const audit: Audit = (type, event) => {
    writes.push(
      database.db.insert(auditEvents).values({
        type,
        userId: event.userId ?? null,
        ip: event.ip ?? null,
        detail: event.detail ?? {},
      }),
    );
  };
  const mailer = createMailer({
    settings: config,
    templates: loadTemplates(config.email_templates_dir),
    logger: createLogger("silent"),
  });
  const factors = createSecondFactors({
    db: database.db,
    // Listing and resetting never open a secret.
    vault: {
      seal: () => Promise.reject(new Error("the CLI does not seal secrets")),
      open: () => Promise.resolve(null),
    },
    clock,
    throttle: createLoginThrottle({
      perAccount: new RateLimiterMemory({ points: 1, duration: 1 }),
      perIp: new RateLimiterMemory({ points: 1, duration: 1 }),
    }),
    audit,
    sessions,
    pending: createPendingSignIns({ db: database.db, clock, sessions, audit }),
    notify: (account, change) =>
      mailer.post("second-factor-changed", account.email, {
        email: account.email,
        change,
        accountLink: `${config.public_url.origin}${config.auth_prefix}/account`,
      }),
    issuer: config.site_name,
  });
  return {
    factors,
    async settle() {
      await Promise.all(writes);
      await mailer.idle();
      mailer.close();
    },
  };
}

async function userId(database: DatabaseHandle, email: string | undefined): Promise<string> {
  if (!email) throw new UsageError("--email is required");
  const canonical = canonicalizeEmail(email);
  const [row] = await database.db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.email, canonical ?? email))
    .limit(1);
  if (!row) throw new UsageError(`no user with the address ${email}`);
  return row.id;
}

export type CommandOutput = {
  print: (line: string) => void;
  printError: (line: string) => void;
};

async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  { print, printError }: CommandOutput,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      email: { type: "string" },
      name: { type: "string" },
      "expires-in-days": { type: "string" },
      help: { type: "boolean" },
    },
  });
  const [group, command, ...rest] = positionals;
  if (values.help || !group) {
    print(USAGE);
    return;
  }
  const config = loadConfig(env);
  const database = await openDatabase(
    config.database_url
      ? { kind: "postgres", url: config.database_url, maxConnections: 2 }
      : { kind: "pglite", dataDir: config.data_dir },
  );
  const redis =
    group === "users" || group === "api-keys" || group === "factors" || group === "passkeys"
      ? await sharedRedis(config, printError)
      : null;
  const published: Promise<unknown>[] = [];
  const publish = (message: RevokedMessage) => {
    if (redis)
      published.push(
        redis.client
          .publish(`${redis.keyPrefix}${REVOKED_CHANNEL}`, JSON.stringify(message))
          .catch(() => {}),
      );
  };
  try {
    const apiKeys = createApiKeyService({
      db: database.db,
      cacheTtlSeconds: 0,
      cacheMax: 0,
      onRevoked: (hashes) => publish({ apiKeys: hashes }),
    });
    const sqlStore = sqlSessionStore(database.db);
    const sessions = createSessionService({
      store: redis
        ? redisCachedSessionStore(sqlStore, redis, {
            ttlSeconds: config.redis_cache_ttl,
            now: () => Date.now(),
            onError: () => {},
          })
        : sqlStore,
      onForgotten: (ids) => publish({ sessions: ids }),
      idleTimeoutSeconds: config.session_idle_timeout,
      maxAgeSeconds: config.session_max_age,
      cacheTtlSeconds: 0,
      cacheMax: 0,
    });
    const admin = createUserAdmin({
      db: database.db,
      sessions,
      dropKeys: (hashes) => apiKeys.dropped(hashes),
      clock: { now: () => Date.now() },
    });
    switch (`${group} ${command ?? ""}`) {
      case "keys rotate": {
        const kid = await rotateSigningKey(database.db);
        print(`signing with the new key ${kid}; replicas pick it up within 30 s`);
        return;
      }
      case "keys list": {
        const ring = await loadKeyRing(database.db);
        for (const key of ring.jwks.keys)
          print(
            `${key.kid}${key.kid === ring.current.kid ? "  (signing)" : "  (retired, published)"}`,
          );
        return;
      }
      case "api-keys create": {
        const days = values["expires-in-days"];
        const created = await apiKeys.create({
          userId: await userId(database, values.email),
          name: values.name ?? "",
          expiresInDays: days === undefined ? undefined : Number(days),
        });
        print(created.key);
        print(
          `id ${created.apiKey.id}, expires ${created.apiKey.expiresAt ?? "never"}: shown once`,
        );
        return;
      }
      case "api-keys list": {
        for (const key of await apiKeys.list(await userId(database, values.email)))
          print(
            `${key.id}  ${key.start}…  ${key.name}  expires ${key.expiresAt ?? "never"}  last used ${key.lastUsedAt ?? "never"}`,
          );
        return;
      }
      case "api-keys revoke": {
        const [id] = rest;
        if (!id) throw new UsageError("which key? give its id");
        if (!(await apiKeys.revoke(await userId(database, values.email), id)))
          throw new UsageError(`no live key ${id} for ${values.email}`);
        print(`revoked ${id}`);
        return;
      }
      case "users set-roles": {
        const [list] = rest;
        if (list === undefined) throw new UsageError("which roles? give them comma-separated");
        const roles = list
          .split(",")
          .map((role) => role.trim())
          .filter(Boolean);
        await database.db
          .update(users)
          .set({ roles, updatedAt: new Date() })
          .where(eq(users.id, await userId(database, values.email)));
        print(`roles of ${values.email}: ${roles.join(", ") || "(none)"}`);
        return;
      }
      case "users disable": {
        const { signedOut } = await admin.disable(await userId(database, values.email));
        print(
          `disabled ${values.email}: ${signedOut} session${signedOut === 1 ? "" : "s"} revoked, its API keys stop working`,
        );
        return;
      }
      case "factors list": {
        const id = await userId(database, values.email);
        const { factors, settle } = factorsOf(config, database, sessions);
        const summary = await factors.summary(id);
        await settle();
        print(
          `authenticator app: ${summary.totp ? `set up ${summary.totp.since}` : "none"}; recovery codes left: ${summary.recoveryCodesLeft}`,
        );
        return;
      }
      case "factors reset": {
        const email = values.email;
        const id = await userId(database, email);
        const { factors, settle } = factorsOf(config, database, sessions);
        const done = await factors.reset({ id, email: email ?? "" });
        await settle();
        print(
          `reset the second factors of ${email}: authenticator app ${done.totp ? "removed" : "none"}, ${done.recoveryCodes} recovery codes removed; sign-ins ask for a password only until the user sets one up again`,
        );
        return;
      }
      case "users enable": {
        await admin.enable(await userId(database, values.email));
        print(`enabled ${values.email}: it can sign in again`);
        return;
      }
      case "passkeys list": {
        for (const key of await passkeyAdmin(database.db).list(
          await userId(database, values.email),
        ))
          print(
            `${key.id}  ${key.name}  ${key.backedUp ? "synced" : "one device"}  added ${key.createdAt}  last used ${key.lastUsedAt ?? "never"}`,
          );
        return;
      }
      case "passkeys reset": {
        const id = await userId(database, values.email);
        const { removed, sessionIds } = await passkeyAdmin(database.db).removeAll(id);
        await sessions.dropped(sessionIds);
        print(
          `${values.email}: ${removed} passkey${removed === 1 ? "" : "s"} removed, ${sessionIds.length} passkey session${sessionIds.length === 1 ? "" : "s"} ended`,
        );
        return;
      }
      default:
        throw new UsageError(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
    }
  } finally {
    await Promise.all(published);
    await redis?.close();
    await database.close();
  }
}

/**
 * Runs one command; returns 0, or 2 for a usage, configuration or account
 * error (its message printed). Anything else is a bug and is thrown.
 */
export async function runCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  output: CommandOutput,
): Promise<number> {
  try {
    await run(argv, env, output);
    return 0;
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof ServiceError ||
      error instanceof DataDirInUse ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      output.printError((error as Error).message);
      return 2;
    }
    throw error;
  }
}
