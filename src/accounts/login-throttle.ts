// Brute-force protection for password logins: failures are counted per
// account and per client address (IPv6 per /64); past the limit, attempts are
// refused with a Retry-After until the window passes. Unknown accounts are
// counted exactly like known ones, so the limit reveals nothing.
import ipaddr from "ipaddr.js";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { SharedRedis } from "../redis/client.ts";

export type LoginThrottle = {
  /** Seconds until the next attempt is allowed, or 0. */
  retryAfter(account: string, ip: string | null): Promise<number>;
  recordFailure(account: string, ip: string | null): Promise<void>;
  recordSuccess(account: string): Promise<void>;
};

/** The address a limit is kept for: IPv4 as is, IPv6 by its /64. */
export function clientKey(ip: string | null): string {
  if (!ip) return "unknown";
  try {
    const parsed = ipaddr.process(ip);
    if (parsed.kind() === "ipv4") return parsed.toString();
    return `${(parsed as ipaddr.IPv6).parts
      .slice(0, 4)
      .map((part) => part.toString(16))
      .join(":")}::/64`;
  } catch {
    return "unknown";
  }
}

/** Takes a point: true when one was left, else the seconds until one is. */
export async function take(limiter: RateLimiterAbstract, key: string): Promise<true | number> {
  try {
    await limiter.consume(key);
    return true;
  } catch (error) {
    if (error instanceof RateLimiterRes) return Math.ceil(error.msBeforeNext / 1000);
    throw error;
  }
}

export function createLoginThrottle(limiters: {
  perAccount: RateLimiterAbstract;
  perIp: RateLimiterAbstract;
}): LoginThrottle {
  const remainingBlock = async (limiter: RateLimiterAbstract, key: string) => {
    const res = await limiter.get(key);
    if (!res || res.remainingPoints > 0) return 0;
    return Math.ceil(res.msBeforeNext / 1000);
  };
  return {
    async retryAfter(account, ip) {
      const [a, b] = await Promise.all([
        remainingBlock(limiters.perAccount, account),
        remainingBlock(limiters.perIp, clientKey(ip)),
      ]);
      return Math.max(a, b);
    },
    async recordFailure(account, ip) {
      await Promise.all([take(limiters.perAccount, account), take(limiters.perIp, clientKey(ip))]);
    },
    async recordSuccess(account) {
      await limiters.perAccount.delete(account);
    },
  };
}

/**
 * A limiter kept in Redis when there is one, shared by every replica. While
 * Redis cannot answer, each replica counts in its own memory (the insurance
 * limiter), so the limit still holds per replica.
 */
export function rateLimiter(
  redis: SharedRedis | null,
  options: { keyPrefix: string; points: number; duration: number },
): RateLimiterAbstract {
  const insuranceLimiter = new RateLimiterMemory(options);
  if (!redis) return insuranceLimiter;
  return new RateLimiterRedis({
    ...options,
    storeClient: redis.client,
    keyPrefix: `${redis.keyPrefix}${options.keyPrefix}`,
    rejectIfRedisNotReady: true,
    insuranceLimiter,
  });
}

export function loginThrottle(
  redis: SharedRedis | null,
  limits: { maxPerAccount: number; maxPerIp: number; windowSeconds: number },
): LoginThrottle {
  const duration = limits.windowSeconds;
  return createLoginThrottle({
    perAccount: rateLimiter(redis, {
      keyPrefix: "login_acct",
      points: limits.maxPerAccount,
      duration,
    }),
    perIp: rateLimiter(redis, { keyPrefix: "login_ip", points: limits.maxPerIp, duration }),
  });
}
