// Brute-force protection for password logins: attempts are counted per
// account and per client address (IPv6 per /64); past the limit, attempts are
// refused with a Retry-After until the window passes. Unknown accounts are
// counted exactly like known ones, so the limit reveals nothing. An attempt
// takes its point before its password is checked (one atomic step in the
// limiter), so a burst of concurrent guesses can never be checked past the
// limit; a right password gives the points back.
import ipaddr from "ipaddr.js";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { SharedRedis } from "../redis/client.ts";

export type LoginThrottle = {
  /**
   * Counts an attempt before its password is checked: true when it may go
   * on, else the seconds until one may.
   */
  attempt(account: string, ip: string | null): Promise<true | number>;
  /** The password was right: the account's count starts again, the address gets its point back. */
  succeeded(account: string, ip: string | null): Promise<void>;
  /** The attempt checked no password after all (the hasher was full): its points are given back. */
  refund(account: string, ip: string | null): Promise<void>;
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
export async function takePoint(limiter: RateLimiterAbstract, key: string): Promise<true | number> {
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
  const giveBack = async (limiter: RateLimiterAbstract, key: string) => {
    await limiter.reward(key, 1);
  };
  return {
    async attempt(account, ip) {
      const address = clientKey(ip);
      const [byAccount, byIp] = await Promise.all([
        takePoint(limiters.perAccount, account),
        takePoint(limiters.perIp, address),
      ]);
      if (byAccount === true && byIp === true) return true;
      // Refused: checks nothing, so the point the other limit gave is returned.
      await Promise.all([
        byAccount === true ? giveBack(limiters.perAccount, account) : undefined,
        byIp === true ? giveBack(limiters.perIp, address) : undefined,
      ]);
      return Math.max(byAccount === true ? 0 : byAccount, byIp === true ? 0 : byIp, 1);
    },
    async succeeded(account, ip) {
      await Promise.all([
        limiters.perAccount.delete(account),
        giveBack(limiters.perIp, clientKey(ip)),
      ]);
    },
    async refund(account, ip) {
      await Promise.all([
        giveBack(limiters.perAccount, account),
        giveBack(limiters.perIp, clientKey(ip)),
      ]);
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
