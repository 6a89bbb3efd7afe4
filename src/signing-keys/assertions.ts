// x-auth-jwt: a short-lived signed statement of who the user is, bound to the
// original host as audience. An application that cannot trust its network
// verifies it against /.well-known/jwks.json instead of trusting plain headers.
// Signing is kept off the hot path: an assertion is reused for the same
// identity and host while more than half its life remains.
import { SignJWT } from "jose";
import type { Clock } from "../kernel/clock.ts";
import { GrowingLru } from "../kernel/growing-lru.ts";
import { amrClaim, hasMfa, type Identity } from "../kernel/identity.ts";
import type { KeyRing } from "./key-ring.ts";

export type Assertion = {
  jwt: string;
  /** The signing key it was signed with. */
  kid: string;
  /** Until when it may be handed out again: while more than half its life is left. */
  reuseUntil: number;
};

export type AssertionSigner = {
  sign(identity: Identity, audience: string): Promise<Assertion>;
  /** The key new assertions are signed with: an assertion signed with another is not handed out again. */
  currentKid(): string;
};

export function createAssertionSigner(options: {
  keys: () => KeyRing;
  issuer: string;
  ttlSeconds: number;
  clock: Clock;
  cacheMax?: number;
}): AssertionSigner {
  const cache = new GrowingLru<string, Assertion>({
    max: options.cacheMax ?? 50_000,
  });
  return {
    currentKid: () => options.keys().current.kid,
    async sign(identity, audience) {
      const { current } = options.keys();
      const key = [
        current.kid,
        audience,
        identity.userId,
        identity.email,
        identity.emailVerified,
        identity.name,
        identity.roles.join(","),
        identity.method,
        identity.authenticatedAt.getTime(),
        amrClaim(identity).join(","),
      ].join("\n");
      const now = options.clock.now();
      const hit = cache.get(key);
      if (hit && hit.reuseUntil > now) return hit;
      const issuedAt = Math.floor(now / 1000);
      const jwt = await new SignJWT({
        email: identity.email,
        email_verified: identity.emailVerified,
        name: identity.name,
        roles: identity.roles,
        amr: amrClaim(identity),
        // "mfa" once a second factor was proven, else "sfa" (single factor).
        acr: hasMfa(identity) ? "mfa" : "sfa",
        auth_time: Math.floor(identity.authenticatedAt.getTime() / 1000),
      })
        .setProtectedHeader({ alg: current.alg, kid: current.kid, typ: "JWT" })
        .setIssuer(options.issuer)
        .setSubject(identity.userId)
        .setAudience(audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + options.ttlSeconds)
        .sign(current.privateKey);
      const assertion = {
        jwt,
        kid: current.kid,
        reuseUntil: now + (options.ttlSeconds * 1000) / 2,
      };
      cache.set(key, assertion);
      return assertion;
    },
  };
}
