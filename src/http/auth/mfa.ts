// The step-up page and the proof of a factor: the second step of a sign-in
// (half signed in, with the half sign-in's cookie), or a signed-in session
// proving a factor again for a rule (mfa, max_auth_age) or before changing
// its factors. A proof in a half sign-in makes the session; in a session it
// is recorded on it (every cache sees it at once).
import { type Context, Hono } from "hono";
import { z } from "zod";
import { ServiceError } from "../../errors.ts";
import type { PendingSignIn } from "../../mfa/pending.ts";
import type { FactorKind } from "../../mfa/service.ts";
import { stepUpPage } from "../pages/mfa.ts";
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

type Who = { account: { id: string; email: string }; pending: PendingSignIn | null };

/** The accounts/database-free description of what a user can prove, in the page's order. */
async function kindsOf(kit: AuthKit, userId: string): Promise<FactorKind[]> {
  const summary = await kit.factors.summary(userId);
  return [
    ...(summary.totp ? (["totp"] as const) : []),
    ...(summary.recoveryCodesLeft > 0 ? (["recovery"] as const) : []),
  ];
}

export function mfaRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { config, prefix, pendingSignIns } = kit;
  const half = halfSignInCookie(kit);
  const app = new Hono<AuthEnv>();

  /** Half signed in (that wins: the browser is in the middle of a sign-in), else the session, else nobody. */
  async function who<E extends AuthEnv>(c: Context<E>): Promise<Who | null> {
    const pending = await pendingSignIns.find(half.read(c));
    if (pending) return { account: { id: pending.userId, email: pending.email }, pending };
    const resolved = await session.lookUp(c);
    return resolved ? { account: resolved.user, pending: null } : null;
  }

  const render = async <E extends AuthEnv>(c: Context<E>, found: Who, error?: string) => {
    c.header("Cache-Control", "no-store");
    return stepUpPage(kit.page(c), {
      kinds: await kindsOf(kit, found.account.id),
      signingIn: found.pending !== null,
      rd: kit.returnTarget(c, c.get("fields")),
      error,
      errorKind: error ? optionalString(c.get("fields")?.kind) : undefined,
    });
  };

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
    return c.json({ kinds: await kindsOf(kit, found.account.id), signingIn: !!found.pending });
  });

  app.post(
    "/mfa/verify",
    errorPage(async (c, error) => {
      const found = await who(c).catch(() => null);
      if (!found)
        return stepUpPage(kit.page(c), { kinds: [], signingIn: true, error: error.message });
      return render(c, found, error.message);
    }),
    readBody,
    validate(verifyBody),
    async (c) => {
      const found = await who(c);
      if (!found)
        throw new ServiceError("unauthenticated", "Sign in first: this sign-in has expired.");
      const { kind, code } = c.get("body");
      const meta = kit.meta(c);
      const proven = await kit.factors.verify(found.account, kind, code, meta);
      const target = kit.returnTarget(c, c.get("fields")) ?? config.default_redirect;
      const { pending } = found;
      if (pending) {
        half.clear(c);
        kit.startSession(c, await pendingSignIns.complete(pending, proven, meta));
      } else {
        const resolved = await session.lookUp(c);
        if (!resolved || !(await kit.sessions.recordFactor(resolved.session.id, proven)))
          throw new ServiceError("unauthenticated", "Sign in to continue.");
      }
      c.header("Cache-Control", "no-store");
      if (c.get("form")) return c.redirect(target, 303);
      return c.json({ status: "ok", amr: proven, redirect: target });
    },
  );

  return app;
}
