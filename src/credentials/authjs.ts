// The Auth.js (NextAuth) session cookie as a credential: gatehouse in front
// of the services around a Next.js app that signs its users in with Auth.js.
// The cookie is found (and bounded) by authjs-cookie.ts, decrypted by
// authjs-token.ts, and the user optionally checked against the app's
// database by authjs-users.ts. Invariant: a present Auth.js cookie gives the
// identity or a 401 (expired, tampered, wrong secret or algorithm, too old,
// too large, user gone or disabled); never another credential, never
// anonymous access.
//
// The warm path: a valid token's identity is kept per cookie value until the
// token expires (or reaches AUTHJS_MAX_AGE), so a browser's next request
// decrypts nothing and gets the same Identity object, whose rendered headers
// the resolver keeps. Only tokens that decrypted under a configured secret
// are kept: nothing a stranger chooses enters the cache.
import { LRUCache } from "lru-cache";
import { Counter, type Registry } from "prom-client";
import { canonicalizeEmail } from "../accounts/email.ts";
import { type Config, xsrfInUse } from "../config.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Identity } from "../kernel/identity.ts";
import type { SharedRedis } from "../redis/client.ts";
import type { CredentialResult } from "../resolve/decide.ts";
import { xsrfTokenFor } from "../sessions/xsrf.ts";
import { type AuthjsCookie, authjsCookies, readAuthjsCookie } from "./authjs-cookie.ts";
import { AuthjsTokenError, createAuthjsDecoder } from "./authjs-token.ts";
import {
  type AuthjsUserCheck,
  type AuthjsUserStatus,
  createAuthjsUserCheck,
} from "./authjs-users.ts";
import { type CredentialStrategy, NOT_MINE } from "./strategy.ts";

export type AuthjsSettings = Pick<
  Config,
  | "authjs_secret"
  | "authjs_cookie_name"
  | "authjs_token_format"
  | "authjs_roles_claim"
  | "authjs_max_age"
>;

type Kept = { cookie: string; credential: CredentialResult; until: number };
type TokenResult = "cached" | "decrypted" | "expired" | "invalid" | "refused";

const CLOCK_TOLERANCE_MS = 15_000;
const MAX_SUBJECT_LENGTH = 255;
const MAX_ROLES = 100;
/** Memory for kept tokens: their characters, at most (about two bytes each). */
const KEPT_CHARACTERS = 16 * 1024 * 1024;

const invalid = (message: string): CredentialResult => ({ kind: "invalid", message });
const EXPIRED = invalid("the Auth.js session has expired");
const NOT_VALID = invalid("the Auth.js session is not valid");
const NO_SUBJECT = invalid("the Auth.js session names no user (sub)");
const TOO_OLD = invalid("the Auth.js session is older than AUTHJS_MAX_AGE");
const USER_GONE = invalid("the Auth.js user no longer exists");
const USER_DISABLED = invalid("the Auth.js user is disabled");

export function authjsStrategy(options: {
  settings: AuthjsSettings;
  clock: Clock;
  registry: Registry;
  userCheck?: AuthjsUserCheck | null;
  /** Give each identity its XSRF token (when the resolver checks them). */
  xsrf?: boolean;
}): CredentialStrategy {
  const { settings, clock } = options;
  const cookies = authjsCookies(settings);
  const decode = createAuthjsDecoder(settings.authjs_secret);
  const maxAgeMs = settings.authjs_max_age * 1000;
  const userCheck = options.userCheck ?? null;
  const kept = new LRUCache<string, Kept>({
    max: 20_000,
    maxSize: KEPT_CHARACTERS,
    sizeCalculation: (_value, token) => token.length,
  });
  const decrypting = new Map<string, Promise<CredentialResult>>();
  const tokens = new Counter({
    name: "gatehouse_authjs_tokens_total",
    help: "Auth.js session cookies by how they were answered: cached, decrypted, expired, invalid, refused (bounds, before any decryption)",
    labelNames: ["result"] as const,
    registers: [options.registry],
  });
  const count = Object.fromEntries(
    (["cached", "decrypted", "expired", "invalid", "refused"] as const).map((result) => [
      result,
      tokens.labels({ result }),
    ]),
  ) as Record<TokenResult, { inc(): void }>;

  function identityFrom(
    claims: Record<string, unknown>,
    token: string,
    now: number,
  ): Kept | CredentialResult {
    const sub = typeof claims.sub === "number" ? String(claims.sub) : claims.sub;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH)
      return NO_SUBJECT;
    const iat = claims.iat;
    const exp = claims.exp;
    if (typeof iat !== "number" || typeof exp !== "number") return NOT_VALID;
    if (iat * 1000 > now + CLOCK_TOLERANCE_MS) return NOT_VALID;
    const tooOldAt = iat * 1000 + maxAgeMs;
    if (tooOldAt <= now) return TOO_OLD;
    // A sign-in time is before the token's issue; anything else is ignored.
    const signedIn = claims.auth_time;
    const authTime =
      typeof signedIn === "number" && signedIn > 0 && signedIn <= iat ? signedIn : iat;
    const identity: Identity = {
      userId: sub,
      email: canonicalizeEmail(claims.email) ?? "",
      emailVerified: claims.email_verified === true,
      name: typeof claims.name === "string" ? claims.name : "",
      roles: rolesFrom(settings.authjs_roles_claim ? claims[settings.authjs_roles_claim] : []),
      method: "authjs",
      authenticatedAt: new Date(authTime * 1000),
    };
    // As for gatehouse's own sessions: an HMAC under the cookie's value, which
    // scripts cannot read, so a sibling subdomain cannot make it.
    const credential: CredentialResult = options.xsrf
      ? { kind: "identity", identity, xsrfToken: xsrfTokenFor(token) }
      : { kind: "identity", identity };
    return { cookie: "", credential, until: Math.min(exp * 1000, tooOldAt) };
  }

  function afterUserCheck(
    credential: CredentialResult,
  ): CredentialResult | Promise<CredentialResult> {
    if (!userCheck || credential.kind !== "identity") return credential;
    const status = userCheck.check(credential.identity.userId);
    return typeof status === "string"
      ? byStatus(status, credential)
      : status.then((answer) => byStatus(answer, credential));
  }

  async function decrypt(cookie: AuthjsCookie, token: string): Promise<CredentialResult> {
    let claims: Record<string, unknown>;
    try {
      claims = await decode(token, cookie);
    } catch (error) {
      const expired = error instanceof AuthjsTokenError && error.reason === "expired";
      count[expired ? "expired" : "invalid"].inc();
      return expired ? EXPIRED : NOT_VALID;
    }
    const now = clock.now();
    const made = identityFrom(claims, token, now);
    if (!("until" in made)) {
      count.invalid.inc();
      return made;
    }
    count.decrypted.inc();
    made.cookie = cookie.name;
    kept.set(token, made);
    return made.credential;
  }

  return {
    name: "authjs",
    read({ bearer, cookie }) {
      // A bearer token is answered by its own strategies, never by a cookie.
      if (bearer !== undefined || !cookie) return NOT_MINE;
      const found = readAuthjsCookie(cookie, cookies);
      if (found.kind === "absent") return NOT_MINE;
      if (found.kind === "refused") {
        count.refused.inc();
        return invalid(found.message);
      }
      const { token } = found;
      const hit = kept.get(token);
      if (hit && hit.cookie === found.cookie.name) {
        if (hit.until > clock.now()) {
          count.cached.inc();
          return afterUserCheck(hit.credential);
        }
        kept.delete(token);
      }
      // Requests racing with the same new token share one decryption (and one Identity).
      const key = `${found.cookie.name}=${token}`;
      let pending = decrypting.get(key);
      if (!pending) {
        pending = decrypt(found.cookie, token);
        decrypting.set(key, pending);
        pending.finally(() => decrypting.delete(key)).catch(() => {});
      }
      return pending.then(afterUserCheck);
    },
  };
}

function byStatus(status: AuthjsUserStatus, credential: CredentialResult): CredentialResult {
  return status === "active" ? credential : status === "missing" ? USER_GONE : USER_DISABLED;
}

/** A claim holding one role (a string) or several (a list of strings). */
function rolesFrom(value: unknown): string[] {
  if (typeof value === "string") return value.length > 0 ? [value] : [];
  if (!Array.isArray(value)) return [];
  return value
    .filter((role): role is string => typeof role === "string" && role.length > 0)
    .slice(0, MAX_ROLES);
}

/** The Auth.js credential as configured (null when AUTHJS_SECRET is unset), with its user check. */
export function authjsFromConfig(options: {
  config: Config;
  clock: Clock;
  registry: Registry;
  redis: SharedRedis | null;
}): { strategy: CredentialStrategy; userCheck: AuthjsUserCheck | null } | null {
  const { config, clock, registry } = options;
  if (config.authjs_secret.length === 0) return null;
  const userCheck =
    config.authjs_user_check && config.authjs_database_url
      ? createAuthjsUserCheck({
          url: config.authjs_database_url,
          ...(config.authjs_user_table ? { table: config.authjs_user_table } : {}),
          idColumn: config.authjs_user_id_column,
          ...(config.authjs_user_disabled_column
            ? { disabledColumn: config.authjs_user_disabled_column }
            : {}),
          ttlSeconds: config.authjs_user_cache_ttl,
          redis: options.redis,
          now: () => clock.now(),
          registry,
        })
      : null;
  const xsrf = xsrfInUse(config);
  return {
    strategy: authjsStrategy({ settings: config, clock, registry, userCheck, xsrf }),
    userCheck,
  };
}
