// Redis, optional: a shared cache and message bus in front of SQL, never the
// source of truth. Connections are built to fail fast: no offline queue (a
// command while disconnected fails at once), a command timeout of
// REDIS_COMMAND_TIMEOUT_MS, and reconnection in the background. Every caller
// treats a failed command as a cache miss and goes to SQL.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../logger.ts";

export type RedisConnection = Redis | Cluster;

/** The settings the client reads (REDIS_*), by their configuration names. */
export type RedisSettings = {
  redis_url?: string | undefined;
  redis_sentinels: string[];
  redis_sentinel_name: string;
  redis_cluster_nodes: string[];
  redis_password?: string | undefined;
  redis_command_timeout_ms: number;
  redis_key_prefix: string;
};

export type SharedRedis = {
  /** For commands. */
  client: RedisConnection;
  keyPrefix: string;
  /** True while connected: callers skip Redis entirely otherwise. */
  isReady(): boolean;
  publish(channel: string, message: string): void;
  /** Calls onMessage for every message on the channel (subscribed again after reconnects). */
  subscribe(channel: string, onMessage: (message: string) => void): void;
  /** Called each time the command connection becomes ready (again). */
  onReady(listener: () => void): void;
  close(): Promise<void>;
};

function parseHostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(":");
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(text.slice(at + 1)) };
}

function connect(settings: RedisSettings, options: RedisOptions): RedisConnection | null {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.redis_command_timeout_ms,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...(settings.redis_password ? { password: settings.redis_password } : {}),
    ...options,
  };
  if (settings.redis_url) return new Redis(settings.redis_url, common);
  if (settings.redis_sentinels.length > 0)
    return new Redis({
      ...common,
      sentinels: settings.redis_sentinels.map(parseHostPort),
      name: settings.redis_sentinel_name,
    });
  if (settings.redis_cluster_nodes.length > 0)
    return new Cluster(settings.redis_cluster_nodes.map(parseHostPort), {
      enableOfflineQueue: false,
      redisOptions: common,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
  return null;
}

/** Connects when Redis is configured; null otherwise (the embedded default). */
export function connectRedis(settings: RedisSettings, logger: Logger): SharedRedis | null {
  const client = connect(settings, {});
  // Subscriptions need their own connection; channels are subscribed again each time it is ready.
  const subscriber = connect(settings, { autoResubscribe: false, commandTimeout: undefined });
  if (!client || !subscriber) return null;
  let ready = false;
  const readyListeners: (() => void)[] = [];
  let lastError = "";
  client.on("ready", () => {
    ready = true;
    logger.info("redis connected");
    for (const listener of readyListeners) listener();
  });
  client.on("end", () => {
    ready = false;
  });
  client.on("close", () => {
    ready = false;
  });
  for (const connection of [client, subscriber])
    connection.on("error", (error: Error) => {
      // Logged once per distinct message, not once per reconnect attempt.
      if (error.message !== lastError) logger.warn({ err: error.message }, "redis unavailable");
      lastError = error.message;
    });
  const handlers = new Map<string, (message: string) => void>();
  subscriber.on("message", (channel: string, message: string) => handlers.get(channel)?.(message));
  const subscribeAll = () => {
    if (subscriber.status !== "ready" || handlers.size === 0) return;
    subscriber.subscribe(...handlers.keys()).catch((error: Error) => {
      logger.warn({ err: error.message }, "redis subscribe failed; retried on reconnect");
    });
  };
  subscriber.on("ready", subscribeAll);
  return {
    client,
    keyPrefix: settings.redis_key_prefix,
    isReady: () => ready,
    publish(channel, message) {
      if (!ready) return;
      client.publish(settings.redis_key_prefix + channel, message).catch(() => {});
    },
    subscribe(channel, onMessage) {
      handlers.set(settings.redis_key_prefix + channel, onMessage);
      subscribeAll();
    },
    onReady(listener) {
      readyListeners.push(listener);
    },
    async close() {
      client.disconnect();
      subscriber.disconnect();
    },
  };
}

/** Deletes the key only while it still holds this caller's value. */
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** A lock shared by the replicas: SET NX with an expiry, released only by its holder. */
export function redisLock(redis: SharedRedis) {
  const mine = new Map<string, string>();
  return {
    async acquire(key: string, ms: number): Promise<boolean> {
      if (!redis.isReady()) throw new Error("redis is not connected");
      const value = crypto.randomUUID();
      const ok = await redis.client.set(`${redis.keyPrefix}${key}`, value, "PX", ms, "NX");
      if (ok === "OK") mine.set(key, value);
      return ok === "OK";
    },
    async release(key: string): Promise<void> {
      const value = mine.get(key);
      mine.delete(key);
      if (value) await redis.client.eval(RELEASE_SCRIPT, 1, `${redis.keyPrefix}${key}`, value);
    },
  };
}
