// Bearer JWTs from trusted issuers, verified with jose against each issuer's
// published key set. What is checked: the issuer is configured (by exact
// `iss`), the algorithm is on that issuer's allow-list, the signature, `aud`,
// `exp` (required) and `nbf` within a small clock tolerance, and `typ` where
// configured. Headers that point elsewhere for keys (`jku`, `x5u`, an embedded
// `jwk`) are never used: keys come only from the configured or discovered
// JWKS URL. An unknown `kid` refetches the key set at most once per cooldown.
// A verified token is cached until it expires, so the hot path verifies once.
import { createHash } from "node:crypto";
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { Clock } from "../kernel/clock.ts";
import { GrowingLru } from "../kernel/growing-lru.ts";
import type { Identity } from "../kernel/identity.ts";
import { fetchDiscovery } from "../kernel/oidc-discovery.ts";
import type { TrustedIssuer } from "./settings.ts";

const FETCH_TIMEOUT_MS = 3_000;
const JWKS_MAX_AGE_MS = 10 * 60 * 1000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The issuer's keys cannot be fetched: the token can be neither accepted nor refused. */
export class IssuerUnavailable extends Error {}

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

type IssuerState = {
  config: TrustedIssuer;
  keys?: JWTVerifyGetKey;
  /** When discovery last failed: it is not retried before the cooldown. */
  failedAt?: number;
};

function claimText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(String).join(",");
  return undefined;
}

function claimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item) => typeof item === "string");
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

export function createJwtVerifier(options: {
  issuers: TrustedIssuer[];
  clock: Clock;
  cacheMax?: number;
  /** Told how each token was answered (for metrics). */
  onResult?: (result: "cached" | "verified" | "invalid" | "unavailable") => void;
}) {
  const report = options.onResult ?? (() => {});
  const issuers = new Map<string, IssuerState>(
    options.issuers.map((config) => [config.issuer, { config }]),
  );
  const verified = new GrowingLru<string, { identity: Identity; expiresAt: number }>({
    max: options.cacheMax ?? 50_000,
  });

  async function keysOf(state: IssuerState): Promise<JWTVerifyGetKey> {
    if (state.keys) return state.keys;
    const cooldownMs = state.config.jwks_cooldown * 1000;
    if (state.failedAt !== undefined && options.clock.now() - state.failedAt < cooldownMs)
      throw new IssuerUnavailable(`${state.config.issuer}: discovery failed recently`);
    try {
      const url = state.config.jwks_url
        ? new URL(state.config.jwks_url)
        : new URL(
            (
              await fetchDiscovery(state.config.issuer, {
                timeoutMs: FETCH_TIMEOUT_MS,
                required: ["jwks_uri"],
              })
            ).jwks_uri,
          );
      state.keys = createRemoteJWKSet(url, {
        timeoutDuration: FETCH_TIMEOUT_MS,
        cooldownDuration: cooldownMs,
        cacheMaxAge: JWKS_MAX_AGE_MS,
      });
      return state.keys;
    } catch (error) {
      state.failedAt = options.clock.now();
      throw new IssuerUnavailable(`${state.config.issuer}: ${(error as Error).message}`);
    }
  }

  function identityFrom(config: TrustedIssuer, payload: JWTPayload): Identity | null {
    const { claims } = config;
    const subject = payload[claims.subject];
    if (typeof subject !== "string" || subject.length === 0 || subject.length > 255) return null;
    const extraHeaders: Record<string, string> = {};
    for (const [header, claim] of Object.entries(config.headers)) {
      const value = claimText(payload[claim]);
      if (value !== undefined) extraHeaders[header] = value;
    }
    const authTime = typeof payload.auth_time === "number" ? payload.auth_time : payload.iat;
    return {
      userId: subject,
      email: claimText(payload[claims.email]) ?? "",
      emailVerified: payload[claims.email_verified] === true,
      name: claimText(payload[claims.name]) ?? "",
      roles: claims.roles ? claimList(payload[claims.roles]) : [],
      method: "jwt",
      authenticatedAt: new Date(
        typeof authTime === "number" ? authTime * 1000 : options.clock.now(),
      ),
      extraHeaders,
    };
  }

  async function verifyUncached(token: string, now: number): Promise<Identity | null> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return null;
    }
    const state = typeof unverified.iss === "string" ? issuers.get(unverified.iss) : undefined;
    if (!state) return null;
    const { config } = state;
    const keys = await keysOf(state);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: config.audiences,
        algorithms: config.algorithms,
        clockTolerance: config.clock_tolerance,
        requiredClaims: ["exp"],
        currentDate: new Date(now),
        ...(config.typ ? { typ: config.typ } : {}),
      }));
    } catch (error) {
      // The keys could not be fetched: the token is neither valid nor invalid.
      if (
        error instanceof errors.JWKSTimeout ||
        error instanceof errors.JWKSInvalid ||
        !(error instanceof errors.JOSEError) ||
        error.code === "ERR_JOSE_GENERIC"
      )
        throw new IssuerUnavailable(`${config.issuer}: ${(error as Error).message}`);
      return null;
    }
    const identity = identityFrom(config, payload);
    if (identity && typeof payload.exp === "number")
      verified.set(cacheKeyOf(token), {
        identity,
        expiresAt: (payload.exp + config.clock_tolerance) * 1000,
      });
    return identity;
  }

  const cacheKeyOf = (token: string) => createHash("sha256").update(token).digest("base64url");

  return {
    /** The identity a valid token carries, null for any invalid token; throws IssuerUnavailable when its keys cannot be fetched. */
    async verify(token: string): Promise<Identity | null> {
      if (!looksLikeJwt(token)) {
        report("invalid");
        return null;
      }
      const now = options.clock.now();
      const hit = verified.get(cacheKeyOf(token));
      if (hit && now < hit.expiresAt) {
        report("cached");
        return hit.identity;
      }
      try {
        const identity = await verifyUncached(token, now);
        report(identity ? "verified" : "invalid");
        return identity;
      } catch (error) {
        report("unavailable");
        throw error;
      }
    },
  };
}

export type JwtVerifier = ReturnType<typeof createJwtVerifier>;
