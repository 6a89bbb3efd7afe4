// Managing second factors with a browser session: setting up an
// authenticator app (QR code and key, confirmed by its first code), removing
// it, and new recovery codes. Every change needs a proof within the last
// five minutes (the service checks), is audited and told by mail. The JSON
// twins answer single-page apps; the forms get pages.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { ServiceError } from "../../errors.ts";
import { recoveryCodesPage, totpSetupPage } from "../pages/mfa.ts";
import type { AccountView } from "./account.ts";
import { buttonPost, errorPage, readBody, validate } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

const confirmBody = z.object({ code: z.unknown() });

export function mfaSetupRoutes(kit: AuthKit, session: SessionMiddleware, account: AccountView) {
  const { config, factors, prefix } = kit;
  const app = new Hono<AuthEnv>();
  const setupUrl = `${config.public_url.origin}${prefix}/mfa/setup`;

  /** The set-up page: the QR code of the set-up in progress (or a new one), or why there is none. */
  async function setupPage<E extends SignedInEnv>(c: Context<E>, error?: string) {
    const user = c.get("user");
    const rd = kit.returnTarget(c, c.get("fields"));
    c.header("Cache-Control", "no-store");
    // An app already set up; a passkey is no reason to refuse an app beside it.
    if ((await factors.summary(user.id)).totp)
      return totpSetupPage(kit.page(c), { setup: null, enabled: true, rd, error });
    let setup = null;
    try {
      setup =
        (await factors.pendingTotp(user)) ?? (await factors.startTotp(user, c.get("session")));
    } catch (thrown) {
      if (!(thrown instanceof ServiceError) || thrown.code !== "reauthentication_required")
        throw thrown;
    }
    // Without a recent proof there is no set-up: the page says to sign in again and come back.
    const back = rd ? `${setupUrl}?rd=${encodeURIComponent(rd)}` : setupUrl;
    return totpSetupPage(kit.page(c), { setup, enabled: false, rd, error, reauthUrl: back });
  }

  /** A page for a signed-in browser; anyone else signs in first and comes back. */
  const signedInPage: MiddlewareHandler<SignedInEnv> = async (c, next) => {
    const resolved = await session.lookUp(c);
    if (!resolved) {
      const rd = kit.returnTarget(c);
      const back = rd ? `${setupUrl}?rd=${encodeURIComponent(rd)}` : setupUrl;
      return c.redirect(`${prefix}/login?rd=${encodeURIComponent(back)}`, 302);
    }
    c.set("signedIn", resolved);
    c.set("user", resolved.user);
    c.set("session", resolved.session);
    await next();
  };

  app.get("/mfa/setup", signedInPage, async (c) => c.html(await setupPage(c)));

  app.get("/mfa/factors", session.requireSession, async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await factors.summary(c.get("user").id));
  });

  // JSON: starts (or restarts) a set-up; the app reads `uri`, a page shows `qrSvg`.
  app.post("/mfa/totp", session.requireSession, async (c) => {
    const setup = await factors.startTotp(c.get("user"), c.get("session"));
    c.header("Cache-Control", "no-store");
    return c.json(setup, 201);
  });

  app.post(
    "/mfa/totp/confirm",
    session.requireSession,
    errorPage((c, error) => setupPage(c as unknown as Context<SignedInEnv>, error.message)),
    readBody,
    validate(confirmBody),
    async (c) => {
      const { recoveryCodes } = await factors.confirmTotp(
        c.get("user"),
        c.get("session"),
        c.get("body").code,
        kit.meta(c),
      );
      const next = kit.returnTarget(c, c.get("fields")) ?? `${prefix}/account`;
      c.header("Cache-Control", "no-store");
      if (!c.get("form")) return c.json({ status: "ok", recoveryCodes, redirect: next });
      if (!recoveryCodes) return c.redirect(next, 303);
      return c.html(
        recoveryCodesPage(kit.page(c), { codes: recoveryCodes, next, enabledNow: true }),
      );
    },
  );

  const removeTotp = async (c: Context<SignedInEnv>) => {
    await factors.removeTotp(c.get("user"), c.get("session"), kit.meta(c));
    return c.get("form") ? c.redirect(`${prefix}/account`, 303) : c.json({ status: "ok" });
  };
  app.delete(
    "/mfa/totp",
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    removeTotp,
  );
  app.post(
    "/mfa/totp/remove",
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    removeTotp,
  );

  app.post(
    "/mfa/recovery-codes",
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    async (c) => {
      const codes = await factors.regenerateRecoveryCodes(
        c.get("user"),
        c.get("session"),
        kit.meta(c),
      );
      c.header("Cache-Control", "no-store");
      if (!c.get("form")) return c.json({ recoveryCodes: codes }, 201);
      return c.html(
        recoveryCodesPage(kit.page(c), { codes, next: `${prefix}/account`, enabledNow: false }),
      );
    },
  );

  return app;
}
