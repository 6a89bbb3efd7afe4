// Decrypts an Auth.js session token. v5 tokens go to @auth/core's own
// `decode` (dir + A256CBC-HS512, the key derived from the secret with the
// cookie's name as salt, rotation by the token's kid). v4 tokens cannot:
// next-auth 4 derived its key with another HKDF info string ("NextAuth.js
// Generated Encryption Key", empty salt, 32 bytes for A256GCM), which
// @auth/core's decode does not take, so they are decrypted as next-auth 4's
// `decode` does (jose's jwtDecrypt with that key), but restricted to the one
// algorithm pair v4 wrote. Invariant: only a token that decrypts under a
// configured secret, with the algorithms its format uses, yields claims; the
// header is checked before any key is derived.
import { decode as decodeV5 } from "@auth/core/jwt";
import { hkdf } from "@panva/hkdf";
import { decodeProtectedHeader, type JWTPayload, jwtDecrypt } from "jose";
import type { AuthjsCookie } from "./authjs-cookie.ts";

/** Why a token gives no claims: said in the 401 (never which secret or check failed). */
export class AuthjsTokenError extends Error {
  constructor(readonly reason: "expired" | "invalid") {
    super(
      reason === "expired" ? "the Auth.js session has expired" : "the Auth.js session is not valid",
    );
  }
}

/** Five base64url parts: a compact JWE. A signed JWT (three parts) is not an Auth.js session. */
const COMPACT_JWE =
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Auth.js's decode allows 15 s of clock skew; so does next-auth 4's. */
const CLOCK_TOLERANCE_SECONDS = 15;
const V5_ENCRYPTIONS = new Set(["A256CBC-HS512", "A256GCM"]);
const V4_ENCRYPTION = "A256GCM";

export type AuthjsDecoder = (token: string, cookie: AuthjsCookie) => Promise<JWTPayload>;

export function createAuthjsDecoder(secrets: readonly string[]): AuthjsDecoder {
  const v5Secrets = [...secrets];
  let v4Keys: Promise<Uint8Array[]> | undefined;
  // Derived once, on first use: next-auth 4 tokens have no kid, so each key is tried in turn.
  const keysV4 = () =>
    (v4Keys ??= Promise.all(
      secrets.map((secret) =>
        hkdf("sha256", secret, "", "NextAuth.js Generated Encryption Key", 32),
      ),
    ));

  async function decryptV4(token: string): Promise<JWTPayload> {
    let failure: unknown;
    for (const key of await keysV4()) {
      try {
        const { payload } = await jwtDecrypt(token, key, {
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          keyManagementAlgorithms: ["dir"],
          contentEncryptionAlgorithms: [V4_ENCRYPTION],
        });
        return payload;
      } catch (error) {
        // Another secret may open it; any other failure (expiry, claims) is final.
        if (codeOf(error) !== "ERR_JWE_DECRYPTION_FAILED") throw error;
        failure = error;
      }
    }
    throw failure;
  }

  return async function decodeAuthjsToken(token, cookie) {
    if (!COMPACT_JWE.test(token)) throw new AuthjsTokenError("invalid");
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthjsTokenError("invalid");
    }
    const enc = String(header.enc);
    const expected = cookie.format === "v5" ? V5_ENCRYPTIONS.has(enc) : enc === V4_ENCRYPTION;
    // `none`, a key-wrapping or password-based alg, or a compressed payload: refused unopened.
    if (header.alg !== "dir" || !expected || header.zip !== undefined)
      throw new AuthjsTokenError("invalid");
    try {
      const payload =
        cookie.format === "v5"
          ? await decodeV5({ token, secret: v5Secrets, salt: cookie.name })
          : await decryptV4(token);
      if (!payload) throw new AuthjsTokenError("invalid");
      return payload;
    } catch (error) {
      if (error instanceof AuthjsTokenError) throw error;
      throw new AuthjsTokenError(codeOf(error) === "ERR_JWT_EXPIRED" ? "expired" : "invalid");
    }
  };
}

function codeOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}
