// The operator's commands, on the same configuration as the server:
//   keys rotate | keys list
//   api-keys create --email E --name N [--expires-in-days D]
//   api-keys list --email E | api-keys revoke --email E ID
//   users create --email E [--name N] [--role R]...   (verified; signs in by a reset link or a provider)
//   users set-roles --email E ROLE[,ROLE...]   (an empty string clears them)
//   users disable|enable|sign-out|delete --email E
//   audit export [--since 24h] [--email E] [--type T]   (JSON lines, oldest first)
//   factors list --email E | factors reset --email E
//   factors remove --email E totp|recovery-codes|passkey:ID
//   passkeys list --email E | passkeys reset --email E
// With the embedded database and the server running, the server holds the
// data directory: the command is sent to it over its admin channel (a Unix
// socket in DATA_DIR, admin-channel.ts) and runs there, on the server's own
// services. With Redis configured, what the CLI revokes reaches every replica
// at once (as a replica's own revocations do); without it, each replica's
// memory lets a revoked session or key live at most SESSION_CACHE_TTL.
// `runCommand` takes the arguments and the environment and returns the exit
// code, so the entry point (cli.ts), the admin channel and the tests run the
// same code.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { type Actor, createUserAdmin, parseRoles, type UserAdmin } from "../accounts/admin.ts";
import { type Audit, type AuditReader, auditReader, auditRow } from "../accounts/audit.ts";
import { type UserDirectory, userDirectory } from "../accounts/directory.ts";
import { canonicalizeEmail } from "../accounts/email.ts";
import { requireEmail, requireName } from "../accounts/fields.ts";
import { createLoginThrottle } from "../accounts/login-throttle.ts";
import { userLocales } from "../accounts/user-locale.ts";
import { type ApiKeyService, createApiKeyService } from "../api-keys/service.ts";
import { mailColors } from "../branding/brands.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { type Database, DataDirInUse, openDatabase } from "../db/client.ts";
import { auditEvents, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import { loadLanguages } from "../i18n/languages.ts";
import { createLogger } from "../logger.ts";
import { createMailer } from "../mail/mailer.ts";
import { loadTemplates } from "../mail/templates.ts";
import { factorChangeNotice } from "../mfa/notice.ts";
import { createPendingSignIns } from "../mfa/pending.ts";
import { createSecondFactors, parseFactorId, type SecondFactors } from "../mfa/service.ts";
import { passkeyAdmin } from "../passkeys/operator.ts";
import { connectRedis, type SharedRedis } from "../redis/client.ts";
import { REVOKED_CHANNEL, type RevokedMessage } from "../redis/revocations.ts";
import { redisCachedSessionStore } from "../sessions/redis-cache.ts";
import { createSessionService, type SessionService } from "../sessions/service.ts";
import { sqlSessionStore } from "../sessions/store.ts";
import { parseDurationSeconds } from "../settings-types.ts";
import { loadKeyRing, rotateSigningKey } from "../signing-keys/key-ring.ts";
import { adminChannelPath, sendToAdminChannel } from "./admin-channel.ts";

export const USAGE = `usage: gatehouse <command>
  keys rotate                                   sign with a new key; the old one stays published
  keys list                                     the published signing keys
  api-keys create --email E --name N [--expires-in-days D]
  api-keys list --email E
  api-keys revoke --email E ID
  users create --email E [--name N] [--role R]...  a verified account without a password
  users set-roles --email E ROLE[,ROLE...]      replace a user's roles ("" clears them)
  users disable --email E                       refuse sign-ins; revoke its sessions, stop its keys
  users enable --email E                        allow sign-ins again (keys work again)
  users sign-out --email E                      revoke every session of the user
  users delete --email E                        delete the account (its audit events stay)
  audit export [--since 24h] [--email E] [--type T]  audit events as JSON lines, oldest first
  factors list --email E                        the user's second factors (passkeys with their ids)
  factors remove --email E FACTOR               remove one: totp, recovery-codes or passkey:ID
                                                (after checking who asks); the user is told by mail
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

export class UsageError extends Error {}

export type CommandOutput = {
  print: (line: string) => void;
  printError: (line: string) => void;
};

/** What the commands run on: the CLI's own, or the running server's (admin channel). */
export type CommandServices = {
  db: Database;
  apiKeys: ApiKeyService;
  admin: UserAdmin;
  directory: UserDirectory;
  audits: AuditReader;
  audit: Audit;
  adminRole: string;
  sessions: SessionService;
  /** Second factors (TOTP, recovery codes): the operator lists and resets them. */
  factors: SecondFactors;
};

const OPTIONS = {
  email: { type: "string" },
  name: { type: "string" },
  role: { type: "string", multiple: true },
  since: { type: "string" },
  type: { type: "string" },
  "expires-in-days": { type: "string" },
  help: { type: "boolean" },
} as const;

function parse(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

const CLI: Actor = { actorId: "cli" };

/** Runs a parsed command on the services given. */
export async function execute(
  argv: string[],
  services: CommandServices,
  { print }: CommandOutput,
): Promise<void> {
  const { values, positionals } = parse(argv);
  const [group, command, ...rest] = positionals;
  const { db, apiKeys, admin, directory } = services;
  const userId = async (email: string | undefined): Promise<string> => {
    if (!email) throw new UsageError("--email is required");
    const canonical = canonicalizeEmail(email);
    if (!canonical) throw new UsageError(`"${email.slice(0, 100)}" is not an email address`);
    const id = await directory.idByEmail(canonical);
    if (!id) throw new UsageError(`no user with the address ${email}`);
    return id;
  };
  switch (`${group} ${command ?? ""}`) {
    case "keys rotate": {
      const kid = await rotateSigningKey(db);
      print(`signing with the new key ${kid}; replicas pick it up within 30 s`);
      return;
    }
    case "keys list": {
      const ring = await loadKeyRing(db);
      for (const key of ring.jwks.keys)
        print(
          `${key.kid}${key.kid === ring.current.kid ? "  (signing)" : "  (retired, published)"}`,
        );
      return;
    }
    case "api-keys create": {
      const days = values["expires-in-days"];
      const owner = await userId(values.email);
      const created = await apiKeys.create({
        userId: owner,
        name: values.name ?? "",
        expiresInDays: days === undefined ? undefined : Number(days),
      });
      services.audit("api_key.created", {
        userId: owner,
        ...CLI,
        detail: { keyId: created.apiKey.id },
      });
      print(created.key);
      print(`id ${created.apiKey.id}, expires ${created.apiKey.expiresAt ?? "never"}: shown once`);
      return;
    }
    case "api-keys list": {
      for (const key of await apiKeys.list(await userId(values.email)))
        print(
          `${key.id}  ${key.start}…  ${key.name}  expires ${key.expiresAt ?? "never"}  last used ${key.lastUsedAt ?? "never"}`,
        );
      return;
    }
    case "api-keys revoke": {
      const [id] = rest;
      if (!id) throw new UsageError("which key? give its id");
      const owner = await userId(values.email);
      if (!(await apiKeys.revoke(owner, id)))
        throw new UsageError(`no live key ${id} for ${values.email}`);
      services.audit("api_key.revoked", { userId: owner, ...CLI, detail: { keyId: id } });
      print(`revoked ${id}`);
      return;
    }
    case "users create": {
      if (values.email === undefined) throw new UsageError("--email is required");
      const email = requireEmail(values.email);
      const name = requireName(values.name);
      const roles = parseRoles(values.role ?? []);
      if (await directory.idByEmail(email)) throw new UsageError(`${email} already has an account`);
      const id = randomUUID();
      await db.insert(users).values({ id, email, emailVerified: true, name, roles });
      services.audit("user.created", { userId: id, ...CLI, detail: { roles } });
      print(`created ${email} (${id}) with roles ${roles.join(", ") || "(none)"}`);
      print(
        "it signs in with a provider that confirms this address, or sets a password with a reset link",
      );
      return;
    }
    case "users set-roles": {
      const [list] = rest;
      if (list === undefined) throw new UsageError("which roles? give them comma-separated");
      const roles = parseRoles(list);
      await admin.setRoles(await userId(values.email), roles, CLI);
      print(`roles of ${values.email}: ${roles.join(", ") || "(none)"}`);
      return;
    }
    case "users disable": {
      const { signedOut } = await admin.disable(await userId(values.email), CLI);
      print(
        `disabled ${values.email}: ${signedOut} session${signedOut === 1 ? "" : "s"} revoked, its API keys stop working`,
      );
      return;
    }
    case "users enable": {
      await admin.enable(await userId(values.email), CLI);
      print(`enabled ${values.email}: it can sign in again`);
      return;
    }
    case "users sign-out": {
      const count = await admin.signOutEverywhere(await userId(values.email), CLI);
      print(`signed ${values.email} out: ${count} session${count === 1 ? "" : "s"} revoked`);
      return;
    }
    case "users delete": {
      await admin.remove(await userId(values.email), CLI);
      print(`deleted ${values.email}: its audit events keep its id`);
      return;
    }
    case "factors list": {
      const overview = await services.factors.overview(await userId(values.email));
      print(
        `authenticator app: ${overview.totp ? `set up ${overview.totp.since}` : "none"}; recovery codes left: ${overview.recoveryCodesLeft}`,
      );
      for (const passkey of overview.passkeys)
        print(
          `passkey:${passkey.id}  ${passkey.name}  added ${passkey.createdAt}  last used ${passkey.lastUsedAt ?? "never"}`,
        );
      return;
    }
    case "factors remove": {
      const [which] = rest;
      if (!which) throw new UsageError("which factor? totp, recovery-codes or passkey:ID");
      const factor = parseFactorId(which);
      const email = values.email;
      const what = await services.factors.removeFactor(
        { id: await userId(email), email: email ?? "" },
        factor,
        CLI,
      );
      print(`removed ${what} of ${email}; the user was told by mail`);
      return;
    }
    case "factors reset": {
      const email = values.email;
      const done = await services.factors.reset({ id: await userId(email), email: email ?? "" });
      print(
        `reset the second factors of ${email}: authenticator app ${done.totp ? "removed" : "none"}, ${done.recoveryCodes} recovery codes removed; sign-ins ask for a password only until the user sets one up again`,
      );
      return;
    }
    case "passkeys list": {
      for (const key of await passkeyAdmin(db).list(await userId(values.email)))
        print(
          `${key.id}  ${key.name}  ${key.backedUp ? "synced" : "one device"}  added ${key.createdAt}  last used ${key.lastUsedAt ?? "never"}`,
        );
      return;
    }
    case "passkeys reset": {
      const owner = await userId(values.email);
      const { removed, sessionIds } = await passkeyAdmin(db).removeAll(owner);
      await services.sessions.dropped(sessionIds);
      await services.factors.factorsRemoved(owner);
      print(
        `${values.email}: ${removed} passkey${removed === 1 ? "" : "s"} removed, ${sessionIds.length} passkey session${sessionIds.length === 1 ? "" : "s"} ended`,
      );
      return;
    }
    case "audit export": {
      const seconds = parseDurationSeconds(values.since ?? "24h");
      if (seconds === undefined)
        throw new UsageError(
          `--since must be a duration like 30m, 24h, 7d (not "${values.since}")`,
        );
      const subject = values.email ? await userId(values.email) : undefined;
      for await (const event of services.audits.since(new Date(Date.now() - seconds * 1000))) {
        if (subject !== undefined && event.userId !== subject) continue;
        if (values.type !== undefined && event.type !== values.type) continue;
        print(JSON.stringify(event));
      }
      return;
    }
    default:
      throw new UsageError(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
  }
}

async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  output: CommandOutput,
): Promise<void> {
  const { values, positionals } = parse(argv);
  const [group] = positionals;
  if (values.help || !group) {
    output.print(USAGE);
    return;
  }
  const config = loadConfig(env);
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase(
      config.database_url
        ? { kind: "postgres", url: config.database_url, maxConnections: 2 }
        : { kind: "pglite", dataDir: config.data_dir },
    );
  } catch (error) {
    // The running server holds the embedded database: it runs the command itself.
    if (error instanceof DataDirInUse && !config.database_url) {
      const forwarded = await sendToAdminChannel(adminChannelPath(config.data_dir), argv, output);
      if (forwarded !== null) {
        if (forwarded !== 0) throw new ForwardedFailure(forwarded);
        return;
      }
    }
    throw error;
  }
  const redis =
    group === "users" || group === "api-keys" || group === "factors" || group === "passkeys"
      ? await sharedRedis(config, output.printError)
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
  const auditErrors: unknown[] = [];
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
    // Awaited before the process ends, unlike the server's background writes.
    const pendingAudits: Promise<unknown>[] = [];
    const audit: Audit = (type, event) => {
      pendingAudits.push(
        database.db
          .insert(auditEvents)
          .values(auditRow(type, event))
          .catch((error) => auditErrors.push(error)),
      );
    };
    const cliFactors = factorsOf(config, database.db, sessions, audit);
    await execute(
      argv,
      {
        db: database.db,
        apiKeys,
        admin: createUserAdmin({
          db: database.db,
          sessions,
          dropKeys: (hashes) => apiKeys.dropped(hashes),
          clock: { now: () => Date.now() },
          audit,
        }),
        directory: userDirectory(database.db),
        audits: auditReader(database.db),
        audit,
        adminRole: config.admin_role,
        sessions,
        factors: cliFactors.factors,
      },
      output,
    );
    await Promise.all(pendingAudits);
    await cliFactors.settle();
  } finally {
    await Promise.all(published);
    await redis?.close();
    await database.close();
  }
  for (const error of auditErrors) output.printError(`audit event not written: ${String(error)}`);
}

/**
 * Second factors for the operator's own process: listing and resetting never
 * open a secret; the reset's notice mail is sent before the process ends.
 */
function factorsOf(
  config: ReturnType<typeof loadConfig>,
  db: Database,
  sessions: SessionService,
  audit: Audit,
) {
  const clock = { now: () => Date.now() };
  const mailer = createMailer({
    settings: config,
    templates: loadTemplates(config.email_templates_dir, mailColors(config)),
    languages: { ...loadLanguages(config), storedLocale: userLocales(db).ofAddress },
    logger: createLogger("silent"),
  });
  const factors = createSecondFactors({
    db,
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
    pending: createPendingSignIns({ db, clock, sessions, audit }),
    notify: factorChangeNotice(mailer, `${config.public_url.origin}${config.auth_prefix}/account`),
    issuer: config.site_name,
    passkeysUsable: config.webauthn !== null,
  });
  return {
    factors,
    async settle() {
      await mailer.idle();
      mailer.close();
    },
  };
}

/** The server ran a forwarded command and it failed: its message is already printed. */
class ForwardedFailure extends Error {
  constructor(readonly code: number) {
    super("");
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
    if (error instanceof ForwardedFailure) return error.code;
    if (isCommandError(error)) {
      output.printError((error as Error).message);
      return 2;
    }
    throw error;
  }
}

/** An error a person caused and can read: printed, exit code 2. */
export function isCommandError(error: unknown): boolean {
  return (
    error instanceof UsageError ||
    error instanceof ConfigError ||
    error instanceof ServiceError ||
    error instanceof DataDirInUse ||
    ((error as { code?: string })?.code?.startsWith("ERR_PARSE_ARGS") ?? false)
  );
}
