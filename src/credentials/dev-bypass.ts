// The development bypass (DEV_BYPASS_USER): a request that carries no
// credential resolves as one named user, so the applications behind the
// proxy can be developed on a laptop without signing in. Asked last, after
// every real credential: a valid session, key or token still answers as
// itself, and an invalid one is still a 401. Invariant: it cannot be on by
// accident where real users are: config.ts refuses it with NODE_ENV=production
// or an https PUBLIC_URL; every use is logged as a warning, /readyz and
// /metrics show it, and every /_resolve answer carries `x-auth-bypass: true`.
import { eq } from "drizzle-orm";
import { Counter, Gauge, type Registry } from "prom-client";
import { canonicalizeEmail } from "../accounts/email.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Identity } from "../kernel/identity.ts";
import type { Logger } from "../logger.ts";
import type { CredentialResult } from "../resolve/decide.ts";
import { type CredentialStrategy, NOT_MINE } from "./strategy.ts";

/** A gatehouse account the bypass user names, when there is one. */
export type BypassAccount = {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string;
  roles: string[];
};

/** The account is read again this often, so a change made while developing shows. */
const ACCOUNT_REFRESH_MS = 5_000;

/** Registers gatehouse_dev_bypass (1 while on) on every instance, so a dashboard can alert on it. */
export function devBypassMetrics(registry: Registry, user: string | undefined) {
  const gauge = new Gauge({
    name: "gatehouse_dev_bypass",
    help: "1 while DEV_BYPASS_USER makes requests without a credential resolve as one user",
    labelNames: ["user"] as const,
    registers: [registry],
  });
  if (user) gauge.set({ user }, 1);
  else gauge.set({ user: "" }, 0);
  return new Counter({
    name: "gatehouse_dev_bypass_total",
    help: "/_resolve answers given as DEV_BYPASS_USER",
    registers: [registry],
  });
}

export function devBypassStrategy(options: {
  /** An id or an email. */
  user: string;
  /** Replace the account's roles (or give the made-up user some). */
  roles: string[];
  /** The gatehouse account with this id or (canonical) email, if any. */
  findAccount: (idOrEmail: { id?: string; email?: string }) => Promise<BypassAccount | null>;
  clock: Clock;
  /** Called on every use. */
  onUse: (identity: Identity) => void;
}): CredentialStrategy {
  const email = canonicalizeEmail(options.user);
  const startedAt = new Date(options.clock.now());
  let kept: { credential: CredentialResult; until: number } | undefined;

  function identityOf(account: BypassAccount | null): Identity {
    if (account)
      return {
        userId: account.id,
        email: account.email,
        emailVerified: account.emailVerified,
        name: account.name,
        roles: options.roles.length > 0 ? options.roles : account.roles,
        method: "dev-bypass",
        authenticatedAt: startedAt,
      };
    // No such account: a made-up user, named by the setting.
    return {
      userId: options.user,
      email: email ?? "",
      emailVerified: email !== undefined,
      name: "",
      roles: options.roles,
      method: "dev-bypass",
      authenticatedAt: startedAt,
    };
  }

  async function refresh(now: number): Promise<CredentialResult> {
    const account = await options.findAccount(email ? { email } : { id: options.user });
    const identity = identityOf(account);
    const previous = kept?.credential;
    // The same Identity object while nothing changed: the resolver keeps its rendered headers.
    const credential =
      previous?.kind === "identity" && sameIdentity(previous.identity, identity)
        ? previous
        : ({ kind: "identity", identity } as const);
    kept = { credential, until: now + ACCOUNT_REFRESH_MS };
    return credential;
  }

  function used(credential: CredentialResult): CredentialResult {
    if (credential.kind === "identity") options.onUse(credential.identity);
    return credential;
  }

  return {
    name: "dev-bypass",
    read({ bearer }) {
      // A bearer token that no strategy took is invalid, bypass or not.
      if (bearer !== undefined) return NOT_MINE;
      const now = options.clock.now();
      if (kept && kept.until > now) return used(kept.credential);
      return refresh(now).then(used);
    },
  };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return (
    a.userId === b.userId &&
    a.email === b.email &&
    a.emailVerified === b.emailVerified &&
    a.name === b.name &&
    a.roles.join("\n") === b.roles.join("\n")
  );
}

/** The bypass as configured: null (and gatehouse_dev_bypass 0) unless DEV_BYPASS_USER is set. */
export function devBypassFromConfig(options: {
  config: Pick<Config, "dev_bypass_user" | "dev_bypass_roles">;
  db: Database;
  clock: Clock;
  registry: Registry;
  logger: Logger;
}): CredentialStrategy | null {
  const { config, db, logger } = options;
  const user = config.dev_bypass_user;
  const uses = devBypassMetrics(options.registry, user);
  if (!user) return null;
  return devBypassStrategy({
    user,
    roles: config.dev_bypass_roles,
    clock: options.clock,
    findAccount: async ({ id, email }) => {
      const [row] = await db
        .select()
        .from(users)
        .where(email ? eq(users.email, email) : eq(users.id, id ?? ""))
        .limit(1);
      return row ?? null;
    },
    onUse: (identity) => {
      uses.inc();
      logger.warn(
        { userId: identity.userId },
        `DEV_BYPASS_USER: a request without a credential resolved as ${identity.userId}`,
      );
    },
  });
}
