// The step-up page and the proof of a factor: the second step of a sign-in
// (half signed in, with the half sign-in's cookie), or a signed-in session
// proving a factor again for a rule (mfa, max_auth_age) or before changing
// its factors. A proof in a half sign-in makes the session; in a session it
// is recorded on it and its sign-in's other sites' sessions (every cache
// sees it at once). Codes are proven here; passkeys in mfa-passkey.ts.
import { type Context, Hono } from "hono";
import { z } from "zod";
import { ServiceError } from "../../errors.ts";
import type { PendingSignIn } from "../../mfa/pending.ts";
import type { FactorKind } from "../../mfa/service.ts";
import { type StepUpKind, stepUpPage } from "../pages/mfa.ts";
import { errorPage, readBody, validate } from "./body.ts";
import { type AuthEnv, type AuthKit, optionalString } from "./kit.ts";
import { halfSignInCookie } from "./mfa-kit.ts";
import type { SessionMiddleware } from "./session.ts";

const FACTOR_KINDS: readonly FactorKind[] = ["totp", "recovery"];

const verifyBody = z.object({
  kind: z.unknown().transform((value, ctx): FactorKind => {
    if (FACTOR_KINDS.includes(value as FactorKind)) return value as FactorKind;
    ctx.addIssue({ code: "custom", message: `kind must be one of: ${FACTOR_KINDS.join(", ")}` });
    return z.NEVER;
  }),
  code: z.unknown(),
});

/** Who is proving a factor: half signed in (pending), or a session (its id). */
export type Prover = {
  account: { id: string; email: string };
  pending: PendingSignIn | null;
  /** The session proving a factor again; null when half signed in. */
  sessionId: string | null;
};

/** What a user can prove, in the page's order: a passkey first (one touch), then codes. */
async function kindsOf(kit: AuthKit, userId: string): Promise<StepUpKind[]> {
  const summary = await kit.factors.summary(userId);
  return [
    ...(kit.passkeys && summary.passkeys > 0 ? (["passkey"] as const) : []),
    ...(summary.totp ? (["totp"] as const) : []),
    ...(summary.recoveryCodesLeft > 0 ? (["recovery"] as const) : []),
  ];
}

/** The step-up's shared parts: who proves, the page, and what a proof ends in. */
export function stepUp(kit: AuthKit, session: SessionMiddleware) {
  const { config, pendingSignIns } = kit;
  const half = halfSignInCookie(kit);

  /** Half signed in (that wins: the browser is in the middle of a sign-in), else the session, else nobody. */
  async function who<E extends AuthEnv>(c: Context<E>): Promise<Prover | null> {
    const pending = await pendingSignIns.find(half.read(c));
    if (pending)
      return { account: { id: pending.userId, email: pending.email }, pending, sessionId: null };
    const resolved = await session.lookUp(c);
    return resolved
      ? { account: resolved.user, pending: null, sessionId: resolved.session.id }
      : null;
  }

  const render = async <E extends AuthEnv>(c: Context<E>, found: Prover, error?: string) => {
    c.header("Cache-Control", "no-store");
    return stepUpPage(kit.page(c), {
      kinds: await kindsOf(kit, found.account.id),
      signingIn: found.pending !== null,
      rd: kit.returnTarget(c, c.get("fields")),
      error,
      errorKind: error ? optionalString(c.get("fields")?.kind) : undefined,
    });
  };

  /** A failed form post gets the step-up page again, with the message. */
  const failedPage = errorPage(async (c, error) => {
    const found = await who(c).catch(() => null);
    if (!found)
      return stepUpPage(kit.page(c), { kinds: [], signingIn: true, error: error.message });
    return render(c, found, error.message);
  });

  /**
   * A factor was proven: a half sign-in becomes its session; a session
   * records the factor. Then the return target (303 for a form, JSON else).
   */
  async function finish<E extends AuthEnv>(c: Context<E>, found: Prover, proven: string[]) {
    const meta = kit.meta(c);
    const target = kit.returnTarget(c, c.get("fields")) ?? config.default_redirect;
    if (found.pending) {
      half.clear(c);
      kit.startSession(c, await pendingSignIns.complete(found.pending, proven, meta));
    } else if (!found.sessionId || !(await kit.sessions.recordFactor(found.sessionId, proven)))
      throw new ServiceError("unauthenticated", "Sign in to continue.");
    c.header("Cache-Control", "no-store");
    if (c.get("form")) return c.redirect(target, 303);
    return c.json({ status: "ok", amr: proven, redirect: target });
  }

  return { who, render, failedPage, finish, kindsOf: (userId: string) => kindsOf(kit, userId) };
}

export function mfaRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { prefix } = kit;
  const { who, render, failedPage, finish, kindsOf } = stepUp(kit, session);
  const app = new Hono<AuthEnv>();

  app.get("/mfa", async (c) => {
    const found = await who(c);
    if (!found) return c.redirect(`${prefix}/login${new URL(c.req.url).search}`, 302);
    return c.html(await render(c, found));
  });

  /** What a user can prove, for front ends building their own step-up. */
  app.get("/mfa/kinds", async (c) => {
    const found = await who(c);
    if (!found) throw new ServiceError("unauthenticated", "Sign in to continue.");
    c.header("Cache-Control", "no-store");
    return c.json({ kinds: await kindsOf(found.account.id), signingIn: !!found.pending });
  });

  app.post("/mfa/verify", failedPage, readBody, validate(verifyBody), async (c) => {
    const found = await who(c);
    if (!found)
      throw new ServiceError("unauthenticated", "Sign in first: this sign-in has expired.");
    const { kind, code } = c.get("body");
    const proven = await kit.factors.verify(found.account, kind, code, kit.meta(c));
    return finish(c, found, proven);
  });

  return app;
}
