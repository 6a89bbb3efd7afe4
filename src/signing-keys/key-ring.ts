// Keys gatehouse signs identity assertions with. Generated on first start and
// kept in the database, so the embedded default needs no setup and every
// replica signs with the same key. Retired keys stay published for a day, far
// longer than any assertion they signed can live.
import { desc } from "drizzle-orm";
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Database } from "../db/client.ts";
import { signingKeys } from "../db/schema.ts";

export const SIGNING_ALG = "EdDSA";
const RETIRED_KEY_PUBLISHED_MS = 24 * 3600 * 1000;

export type SigningKey = { kid: string; alg: string; privateKey: CryptoKey; publicJwk: JWK };

export type KeyRing = {
  /** The key new assertions are signed with. */
  current: SigningKey;
  /** Public keys to publish at /.well-known/jwks.json. */
  jwks: { keys: JWK[] };
};

async function newKeyRow() {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, {
    crv: "Ed25519",
    extractable: true,
  });
  const kid = crypto.randomUUID();
  return {
    kid,
    alg: SIGNING_ALG,
    privateJwk: { ...(await exportJWK(privateKey)) } as Record<string, unknown>,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: "sig" } as Record<
      string,
      unknown
    >,
  };
}

/** Loads the key ring, creating the first key when there is none. */
export async function loadKeyRing(db: Database, now = Date.now()): Promise<KeyRing> {
  let rows = await db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt));
  if (!rows.some((row) => row.retiredAt === null)) {
    await db
      .insert(signingKeys)
      .values(await newKeyRow())
      .onConflictDoNothing();
    rows = await db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt));
  }
  const active = rows.find((row) => row.retiredAt === null);
  if (!active) throw new Error("no active signing key");
  const published = rows.filter(
    (row) => row.retiredAt === null || now - row.retiredAt.getTime() < RETIRED_KEY_PUBLISHED_MS,
  );
  return {
    current: {
      kid: active.kid,
      alg: active.alg,
      privateKey: (await importJWK(active.privateJwk as JWK, active.alg)) as CryptoKey,
      publicJwk: active.publicJwk as JWK,
    },
    jwks: { keys: published.map((row) => row.publicJwk as JWK) },
  };
}

/** Starts signing with a new key; the previous ones stay published until they can no longer matter. */
export async function rotateSigningKey(db: Database): Promise<string> {
  const row = await newKeyRow();
  await db.transaction(async (tx) => {
    await tx.update(signingKeys).set({ retiredAt: new Date() });
    await tx.insert(signingKeys).values(row);
  });
  return row.kid;
}
