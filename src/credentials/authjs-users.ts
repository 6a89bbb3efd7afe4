// The optional Auth.js user check: does the token's user still exist in the
// app's own PostgreSQL (the Auth.js adapter's users table), and is it not
// disabled? Answers are kept in memory and in Redis (when configured) for
// AUTHJS_USER_CACHE_TTL from the moment the database was asked: that is the
// bound on how long a deleted user keeps resolving. Invariant: an answer
// older than that is never used; when the database cannot answer and no
// fresh answer is kept, the check throws (the resolver's 503), never "yes".
import postgres from "postgres";
import { Counter, type Registry } from "prom-client";
import { GrowingLru } from "../kernel/growing-lru.ts";
import type { SharedRedis } from "../redis/client.ts";

export type AuthjsUserStatus = "active" | "missing" | "disabled";
/** Where an answer came from (or that none could be had), for the metrics. */
type UserCheckResult = "memory" | "redis" | "database" | "unavailable";

export type AuthjsUserCheck = {
  /** Synchronous while a fresh answer is in memory; throws (or rejects) when none can be had. */
  check(userId: string): AuthjsUserStatus | Promise<AuthjsUserStatus>;
  /** For /readyz: resolves when the database answers, within a probe's budget (500 ms). */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export type AuthjsUserCheckOptions = {
  url: string;
  /** Unset: `users` (the pg adapter's) or `user` (the drizzle adapter's), whichever exists. */
  table?: string;
  idColumn: string;
  /** Refuses the user when neither NULL nor false. */
  disabledColumn?: string;
  ttlSeconds: number;
  redis: SharedRedis | null;
  now: () => number;
  /** gatehouse_authjs_user_checks_total is registered here. */
  registry?: Registry;
  timeoutMs?: number;
  cacheMax?: number;
};

type Answer = { status: AuthjsUserStatus; until: number };

const STATUSES = new Set<AuthjsUserStatus>(["active", "missing", "disabled"]);
/** PostgreSQL could not read the id as the column's type (an integer id, a UUID): no such user. */
const NOT_AN_ID = new Set(["22P02", "22003"]);

export function createAuthjsUserCheck(options: AuthjsUserCheckOptions): AuthjsUserCheck {
  const timeoutMs = options.timeoutMs ?? 2_500;
  const ttlMs = options.ttlSeconds * 1000;
  const sql = postgres(options.url, {
    max: 4,
    connect_timeout: Math.ceil(timeoutMs / 1000),
    idle_timeout: 60,
    onnotice: () => {},
    connection: { application_name: "gatehouse-authjs-user-check" },
  });
  const memory = new GrowingLru<string, Answer>({ max: options.cacheMax ?? 100_000 });
  const checks = new Counter({
    name: "gatehouse_authjs_user_checks_total",
    help: "Auth.js user checks by where the answer came from: memory, redis, database, or unavailable (no fresh answer and the database failed)",
    labelNames: ["result"] as const,
    registers: options.registry ? [options.registry] : [],
  });
  const count = Object.fromEntries(
    (["memory", "redis", "database", "unavailable"] as const).map((result) => [
      result,
      checks.labels({ result }),
    ]),
  ) as Record<UserCheckResult, { inc(): void }>;
  const inflight = new Map<string, Promise<AuthjsUserStatus>>();
  const redisKey = (userId: string) => `${options.redis?.keyPrefix ?? ""}authjs_user:${userId}`;
  let table: Promise<string> | undefined = options.table
    ? Promise.resolve(options.table)
    : undefined;

  function withTimeout<T>(promise: Promise<T>, ms = timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the Auth.js database did not answer within ${ms} ms`)),
        ms,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** The adapter's table, found once: both or neither is a configuration error, reported as a failure. */
  async function detectTable(): Promise<string> {
    const [row] = await sql<{ users: boolean; user: boolean }[]>`
      select to_regclass('users') is not null as users, to_regclass('"user"') is not null as "user"`;
    if (row?.users && row.user)
      throw new Error(
        "the Auth.js database has both a users and a user table: set AUTHJS_USER_TABLE",
      );
    if (row?.users) return "users";
    if (row?.user) return "user";
    throw new Error(
      "the Auth.js database has no users (pg adapter) or user (drizzle adapter) table: set AUTHJS_USER_TABLE",
    );
  }

  async function fromDatabase(userId: string): Promise<AuthjsUserStatus> {
    if (!table) {
      table = detectTable();
      table.catch(() => {
        table = undefined;
      });
    }
    const name = await table;
    const { idColumn, disabledColumn } = options;
    try {
      const rows = disabledColumn
        ? await sql`select ${sql(disabledColumn)} as disabled from ${sql(name)} where ${sql(idColumn)} = ${userId} limit 1`
        : await sql`select false as disabled from ${sql(name)} where ${sql(idColumn)} = ${userId} limit 1`;
      const row = rows[0];
      if (!row) return "missing";
      return row.disabled === null || row.disabled === false ? "active" : "disabled";
    } catch (error) {
      if (NOT_AN_ID.has(String((error as { code?: unknown }).code))) return "missing";
      throw error;
    }
  }

  async function fromRedis(userId: string, now: number): Promise<Answer | undefined> {
    const redis = options.redis;
    if (!redis?.isReady()) return undefined;
    try {
      const text = await redis.client.get(redisKey(userId));
      if (!text) return undefined;
      const [status, until] = text.split("|");
      const answer = { status: status as AuthjsUserStatus, until: Number(until) };
      return STATUSES.has(answer.status) && answer.until > now ? answer : undefined;
    } catch {
      return undefined; // A miss: the database answers.
    }
  }

  async function lookup(userId: string): Promise<AuthjsUserStatus> {
    const now = options.now();
    const shared = await fromRedis(userId, now);
    if (shared) {
      memory.set(userId, shared);
      count.redis.inc();
      return shared.status;
    }
    let status: AuthjsUserStatus;
    try {
      status = await withTimeout(fromDatabase(userId));
    } catch (error) {
      count.unavailable.inc();
      throw error;
    }
    // Counted from before the question: the bound holds whatever the query took.
    const answer = { status, until: now + ttlMs };
    memory.set(userId, answer);
    count.database.inc();
    const redis = options.redis;
    if (redis?.isReady())
      redis.client.set(redisKey(userId), `${status}|${answer.until}`, "PX", ttlMs).catch(() => {});
    return status;
  }

  return {
    check(userId) {
      const hit = memory.get(userId);
      if (hit && hit.until > options.now()) {
        count.memory.inc();
        return hit.status;
      }
      let pending = inflight.get(userId);
      if (!pending) {
        pending = lookup(userId).finally(() => inflight.delete(userId));
        inflight.set(userId, pending);
      }
      return pending;
    },
    async ping() {
      await withTimeout(sql`select 1`, Math.min(timeoutMs, 500));
    },
    async close() {
      await sql.end({ timeout: 1 });
    },
  };
}
