// The benchmark's credentials, written straight into the stores: gatehouse's
// users, sessions and API keys (PostgreSQL or the embedded database, through
// the same schema), and the Express peer's sessions in Redis, as
// express-session and connect-redis store them.
import { createHmac, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { apiKeyStart, generateApiKey, hashApiKey } from "../src/api-keys/format.ts";
import type { Database } from "../src/db/client.ts";
import { apiKeys, sessions, users } from "../src/db/schema.ts";
import { generateToken, hashToken } from "../src/sessions/tokens.ts";

export const USERS = 1_000;
export const SESSIONS_PER_USER = 10;
const DAY = 86_400_000;

export type Seeded = { userIds: string[]; cookies: string[]; apiKeys: string[] };

/** USERS users with SESSIONS_PER_USER sessions each, and an API key for each of the first `keys`. */
export async function seedGatehouse(db: Database, keys: number): Promise<Seeded> {
  const now = Date.now();
  const userIds = Array.from({ length: USERS }, () => crypto.randomUUID());
  for (let i = 0; i < USERS; i += 500)
    await db
      .insert(users)
      .values(
        userIds
          .slice(i, i + 500)
          .map((id, j) => ({ id, email: `bench.${i + j}@example.test`, name: `Bench ${i + j}` })),
      );
  const cookies: string[] = [];
  const rows = userIds.flatMap((userId) =>
    Array.from({ length: SESSIONS_PER_USER }, () => {
      const token = generateToken();
      cookies.push(`gatehouse_session=${token}`);
      return {
        id: hashToken(token),
        userId,
        method: "password",
        authenticatedAt: new Date(now),
        idleExpiresAt: new Date(now + DAY),
        expiresAt: new Date(now + DAY),
      };
    }),
  );
  for (let i = 0; i < rows.length; i += 1_000)
    await db.insert(sessions).values(rows.slice(i, i + 1_000));
  const keyList = userIds.slice(0, keys).map((userId) => ({ key: generateApiKey(), userId }));
  if (keyList.length > 0)
    await db.insert(apiKeys).values(
      keyList.map(({ key, userId }) => ({
        id: crypto.randomUUID(),
        userId,
        name: "bench",
        hash: hashApiKey(key),
        start: apiKeyStart(key),
      })),
    );
  return { userIds, cookies, apiKeys: keyList.map(({ key }) => key) };
}

/**
 * USERS × SESSIONS_PER_USER sessions for the Express peer: `sess:<id>` holds
 * the session as JSON with its cookie, and the browser's cookie is
 * `connect.sid=s:<id>.<HMAC-SHA256 of the id, base64 without padding>`.
 */
export async function seedExpress(redisUrl: string, secret: string): Promise<string[]> {
  const redis = new Redis(redisUrl);
  const expires = new Date(Date.now() + DAY).toISOString();
  const cookies: string[] = [];
  const pipeline = redis.pipeline();
  for (let i = 0; i < USERS * SESSIONS_PER_USER; i++) {
    const id = randomBytes(24).toString("base64url");
    const user = Math.floor(i / SESSIONS_PER_USER);
    const session = {
      cookie: { originalMaxAge: DAY, expires, httpOnly: true, path: "/", sameSite: "lax" },
      user: { id: `user-${user}`, email: `bench.${user}@example.test`, roles: ["member"] },
    };
    pipeline.set(`sess:${id}`, JSON.stringify(session), "EX", DAY / 1000);
    const signature = createHmac("sha256", secret).update(id).digest("base64").replace(/=+$/, "");
    cookies.push(`connect.sid=${encodeURIComponent(`s:${id}.${signature}`)}`);
  }
  await pipeline.exec();
  redis.disconnect();
  return cookies;
}
