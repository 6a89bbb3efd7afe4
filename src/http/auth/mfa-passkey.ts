// step-up: a passkey as the second factor, on the step-up page. The page's
// passkey form asks /mfa/passkey/options for a challenge naming the
// account's own passkeys (its handle in a cookie of its own, bound to the
// half sign-in or session that asked), runs the ceremony and posts the
// browser's answer to /mfa/passkey/verify, which checks it with the passkey
// service (verifyForUser: only this account's passkeys, on this ceremony)
// and, like a code, makes the pending sign-in's session or records the
// factor (hwk or swk, and mfa) on the session. Without a relying party every
// route here is a 404.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { ServiceError } from "../../errors.ts";
import { parseAssertion } from "../../passkeys/input.ts";
import type { ActingSession, PasskeyService } from "../../passkeys/service.ts";
import { readBody } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import { type Prover, stepUp } from "./mfa.ts";
import { ceremonyCookies } from "./passkey-parts.ts";
import type { SessionMiddleware } from "./session.ts";

/**
 * The ceremony's owner: the session proving again, or the half sign-in (a
 * prefix keeps its id apart from session ids; it is a hash of its token).
 */
function actingFor(found: Prover): ActingSession {
  const id = found.sessionId ?? `pending:${found.pending?.id ?? ""}`;
  return { id, authenticatedAt: new Date(0) };
}

export function mfaPasskeyRoutes(kit: AuthKit, session: SessionMiddleware) {
  const app = new Hono<AuthEnv>();
  const { who, failedPage, finish } = stepUp(kit, session);
  const { handleOf, optionsAnswer } = ceremonyCookies(kit.config);
  const enabled: MiddlewareHandler<AuthEnv> = async (_c, next) => {
    if (!kit.passkeys) throw new ServiceError("not_found", "Passkeys are not available here.");
    await next();
  };
  const passkeys = () => kit.passkeys as PasskeyService;
  const prover = async <E extends AuthEnv>(c: Context<E>) => {
    const found = await who(c);
    if (!found)
      throw new ServiceError("unauthenticated", "Sign in first: this sign-in has expired.");
    return found;
  };

  app.post("/mfa/passkey/options", enabled, async (c) => {
    const found = await prover(c);
    const made = await passkeys().stepUpOptions(found.account.id, actingFor(found), kit.meta(c));
    return optionsAnswer(c, "step_up", made);
  });

  app.post("/mfa/passkey/verify", enabled, failedPage, readBody, async (c) => {
    const handle = handleOf(c, "step_up");
    const found = await prover(c);
    const response = parseAssertion(c.get("fields")?.response);
    const meta = kit.meta(c);
    const proven = await kit.factors.provePasskey(
      found.account,
      () =>
        passkeys().verifyForUser(found.account.id, response, {
          handle,
          session: actingFor(found),
          meta,
        }),
      meta,
    );
    return finish(c, found, proven);
  });

  return app;
}
