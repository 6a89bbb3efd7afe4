// Auth.js session tokens for the tests: v5 minted by @auth/core's own
// `encode` and chunked by its own SessionStore; v4 from next-auth 4.24.15
// itself (fixtures/next-auth-v4.json, made by fixtures/mint-next-auth-v4.cjs:
// next-auth 4 cannot be installed beside gatehouse), plus a v4 minter that
// follows next-auth 4's encode and is checked against those fixtures.
import { readFileSync } from "node:fs";
import { encode } from "@auth/core/jwt";
import { hkdf } from "@panva/hkdf";
import { EncryptJWT } from "jose";

export const V5_SECRET = "gatehouse test secret for Auth.js v5 sessions (32+ chars)";
export const V5_OLD_SECRET = "the Auth.js v5 secret before the last rotation";
export const V5_COOKIE = "authjs.session-token";

export type V4Fixtures = {
  secret: string;
  oldSecret: string;
  claims: Record<string, unknown>;
  valid: string;
  rotated: string;
  expired: string;
  chunked: { name: string; value: string }[];
};

export const v4: V4Fixtures = JSON.parse(
  readFileSync(new URL("./fixtures/next-auth-v4.json", import.meta.url), "utf8"),
);

/** A v5 session token exactly as Auth.js writes it (salt: the cookie's name). */
export function mintV5(
  claims: Record<string, unknown>,
  options: { secret?: string; salt?: string; maxAge?: number } = {},
): Promise<string> {
  return encode({
    token: claims,
    secret: options.secret ?? V5_SECRET,
    salt: options.salt ?? V5_COOKIE,
    maxAge: options.maxAge ?? 3600,
  });
}

type Chunker = new (
  option: { name: string; options: Record<string, unknown> },
  cookies: Record<string, string>,
  logger: { debug(): void },
) => { chunk(value: string, options: Record<string, unknown>): { name: string; value: string }[] };

/** Auth.js's own chunking (its SessionStore, not exported by the package: loaded by path). */
export async function chunkV5(
  name: string,
  token: string,
): Promise<{ name: string; value: string }[]> {
  const url = new URL("./lib/utils/cookie.js", import.meta.resolve("@auth/core/jwt"));
  const { SessionStore } = (await import(url.href)) as { SessionStore: Chunker };
  const store = new SessionStore({ name, options: { path: "/" } }, {}, { debug() {} });
  return store.chunk(token, {}).map(({ name, value }) => ({ name, value }));
}

/** next-auth 4's encode: HKDF-SHA256(secret, "", "NextAuth.js Generated Encryption Key", 32), dir + A256GCM. */
export async function mintV4(
  claims: Record<string, unknown>,
  options: { secret?: string; maxAge?: number; iat?: number } = {},
): Promise<string> {
  const key = await hkdf(
    "sha256",
    options.secret ?? v4.secret,
    "",
    "NextAuth.js Generated Encryption Key",
    32,
  );
  const now = options.iat ?? Math.floor(Date.now() / 1000);
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.maxAge ?? 3600))
    .setJti(crypto.randomUUID())
    .encrypt(key);
}

export const cookieHeader = (cookies: { name: string; value: string }[]): string =>
  cookies.map(({ name, value }) => `${name}=${value}`).join("; ");

/**
 * Real time plus what a test added: tokens carry the real time (iat), so a
 * clock frozen while a slow server starts would see them as issued in the future.
 */
export function advancingClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
    },
  };
}
