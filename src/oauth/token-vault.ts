// Provider tokens at rest: each one a compact JWE (dir, A256GCM) under a key
// from TOKEN_ENCRYPTION_KEYS; the first key encrypts, every key decrypts, so
// keys can be rotated by putting a new one first. Without configured keys, a
// key is generated once and kept in the database's settings table: tokens are
// then safe in a leaked dump of the identities table alone, not of the whole
// database; the README says so.
import { createHash, randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { base64url, CompactEncrypt, compactDecrypt, decodeProtectedHeader } from "jose";
import type { Database } from "../db/client.ts";
import { settings } from "../db/schema.ts";
import type { ProviderTokens } from "./provider-calls.ts";

export type TokenVault = {
  seal(token: string): Promise<string>;
  /** The token, or null when no key opens it (a key was retired). */
  open(sealed: string): Promise<string | null>;
};

const GENERATED_KEY = "token_encryption_key";

function kidOf(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 12);
}

export function createTokenVault(rawKeys: Uint8Array[]): TokenVault {
  const [current] = rawKeys;
  if (!current) throw new Error("a token vault needs a key");
  const byKid = new Map(rawKeys.map((key) => [kidOf(key), key]));
  const currentKid = kidOf(current);
  const encoder = new TextEncoder();
  return {
    seal: (token) =>
      new CompactEncrypt(encoder.encode(token))
        .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: currentKid })
        .encrypt(current),
    async open(sealed) {
      try {
        const key = byKid.get(String(decodeProtectedHeader(sealed).kid));
        if (!key) return null;
        const { plaintext } = await compactDecrypt(sealed, key, {
          keyManagementAlgorithms: ["dir"],
          contentEncryptionAlgorithms: ["A256GCM"],
        });
        return new TextDecoder().decode(plaintext);
      } catch {
        return null;
      }
    },
  };
}

/** The configured keys, or the one generated on first start and kept in SQL. */
export async function loadTokenVault(db: Database, configured: string[]): Promise<TokenVault> {
  if (configured.length > 0)
    return createTokenVault(configured.map((key) => base64url.decode(key)));
  await db
    .insert(settings)
    .values({ key: GENERATED_KEY, value: base64url.encode(randomBytes(32)) })
    .onConflictDoNothing();
  const rows = await db.select().from(settings).where(eq(settings.key, GENERATED_KEY));
  const stored = rows[0]?.value;
  if (!stored) throw new Error("the generated token encryption key could not be read");
  return createTokenVault([base64url.decode(stored)]);
}

/** A provider's tokens as stored: sealed, with their expiry. */
export type SealedTokens = {
  accessToken: string;
  refreshToken: string | null;
  tokenExpiresAt: Date | null;
};

/** Seals what the provider sent; without a new refresh token, `previousRefresh` is kept. */
export async function sealTokens(
  vault: TokenVault,
  tokens: ProviderTokens,
  previousRefresh: string | null,
): Promise<SealedTokens> {
  return {
    accessToken: await vault.seal(tokens.accessToken),
    // Providers that do not rotate refresh tokens send none on refresh: keep the old one.
    refreshToken: tokens.refreshToken ? await vault.seal(tokens.refreshToken) : previousRefresh,
    tokenExpiresAt: tokens.expiresAt,
  };
}
