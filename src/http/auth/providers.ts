// Sign-in providers: start, callback, link and unlink. Every failure of a
// sign-in ends on a readable page, never a 500: a person is looking at it.
import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ServiceError } from "../../errors.ts";
import { OAuthError } from "../../oauth/service.ts";
import { messagePage } from "../pages/message.ts";
import { buttonPost, errorPage } from "./body.ts";
import { type AuthEnv, type AuthKit, wantsJson } from "./kit.ts";
import { secondStepAnswer } from "./mfa-kit.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

const FLOW_COOKIE_MAX_AGE = 600;

export function providerRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { config, oauth, prefix } = kit;
  const flowCookie = `${config.session_cookie}_oauth`;
  const baseCookie = {
    path: "/",
    httpOnly: true,
    secure: config.secure_cookies,
    ...(config.cookie_domain ? { domain: config.cookie_domain } : {}),
  };
  const app = new Hono<AuthEnv>();
  /** A provider's refusal in the page's language (`errors.oauth_<status>`), else as written. */
  const describe = <E extends AuthEnv>(c: Context<E>, error: OAuthError) =>
    kit.languages.describeError(kit.page(c).locale, {
      code: `oauth_${error.status}`,
      message: error.message,
    });

  const problemPage = <E extends AuthEnv>(c: Context<E>, error: OAuthError) => {
    c.status(error.status);
    c.header("Cache-Control", "no-store");
    const page = kit.page(c);
    return c.html(
      messagePage(page, page.t("sign-in.providerFailedTitle"), describe(c, error), {
        href: `${prefix}/login`,
        text: page.t("sign-in.backToSignIn"),
      }),
    );
  };

  /** A link refused before it started: a JSON error for API clients, the page for browsers. */
  const linkRefused = <E extends AuthEnv>(c: Context<E>, error: OAuthError) => {
    if (error.status === 403 && wantsJson(c))
      throw new ServiceError("email_not_verified", error.message);
    c.status(error.status);
    c.header("Cache-Control", "no-store");
    const page = kit.page(c);
    return c.html(
      messagePage(page, page.t("sign-in.notLinkedTitle"), describe(c, error), {
        href: `${prefix}/account`,
        text: page.t("common.backToAccount"),
      }),
    );
  };

  async function begin<E extends AuthEnv>(
    c: Context<E>,
    options: { returnTo: string | null; linkUserId?: string },
    refused: (c: Context<E>, error: OAuthError) => Response | Promise<Response> = problemPage,
  ) {
    try {
      const { url, handle, formPost } = await oauth.start(c.req.param("provider") ?? "", options);
      // Apple returns with a cross-site POST: only SameSite=None (which needs https) survives it.
      const sameSite = formPost && config.secure_cookies ? ("None" as const) : ("Lax" as const);
      setCookie(c, flowCookie, handle, { ...baseCookie, sameSite, maxAge: FLOW_COOKIE_MAX_AGE });
      c.header("Cache-Control", "no-store");
      return c.redirect(url.href, 302);
    } catch (error) {
      if (error instanceof OAuthError) return refused(c, error);
      throw error;
    }
  }

  app.get("/oauth/:provider", (c) => begin(c, { returnTo: kit.returnTarget(c) ?? null }));

  // Linking changes the account, so it is a POST (checked for CSRF like every
  // other), and needs a verified address.
  app.post("/oauth/:provider/link", session.requireSession, (c) =>
    begin(
      c,
      { returnTo: `${config.public_url.origin}${prefix}/account`, linkUserId: c.get("user").id },
      linkRefused,
    ),
  );

  const callback = async (c: Context<AuthEnv>) => {
    // Apple's form_post answer is urlencoded; any other body carries nothing.
    const urlencoded = (c.req.header("content-type") ?? "").startsWith(
      "application/x-www-form-urlencoded",
    );
    const form = new URLSearchParams(
      c.req.method === "POST" && urlencoded ? await c.req.text() : "",
    );
    const param = (name: string) => c.req.query(name) ?? form.get(name) ?? undefined;
    const handle = getCookie(c, flowCookie);
    deleteCookie(c, flowCookie, baseCookie);
    try {
      const current = await session.lookUp(c).catch(() => null);
      const result = await oauth.finish(
        c.req.param("provider") ?? "",
        handle,
        {
          code: param("code"),
          state: param("state"),
          error: param("error"),
          errorDescription: param("error_description"),
        },
        { userId: current?.user.id ?? null, sessionId: current?.session.id ?? null },
        kit.meta(c),
      );
      if (result.halfSignedIn)
        return secondStepAnswer(c, kit, result.halfSignedIn, result.returnTo ?? undefined, true);
      if (result.signedIn) {
        kit.startSession(c, result.signedIn);
        // An account a provider's sign-in made has no language yet: this page's becomes its mail's.
        await kit.userLocales
          .keepFirst(result.signedIn.user.id, kit.page(c).locale)
          .catch((error) => kit.logError(error, "storing the user's language"));
      }
      c.header("Cache-Control", "no-store");
      return c.redirect(result.returnTo ?? config.default_redirect, 303);
    } catch (error) {
      if (error instanceof OAuthError) return problemPage(c, error);
      throw error;
    }
  };
  app.get("/oauth/:provider/callback", callback);
  app.post("/oauth/:provider/callback", callback);

  app.get("/identities", session.requireSession, async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ identities: await oauth.identities(c.get("user").id) });
  });

  // The account page's Unlink button gets a page on failure; DELETE and JSON get JSON.
  const unlink = async (c: Context<SignedInEnv>) => {
    await oauth.unlink(c.get("user").id, c.req.param("id") ?? "", kit.meta(c));
    return c.req.method === "DELETE" || wantsJson(c)
      ? c.json({ status: "ok" })
      : c.redirect(`${prefix}/account`, 303);
  };
  const cannotUnlink = errorPage((c, error) => {
    const page = kit.page(c);
    return messagePage(page, page.t("sign-in.cannotUnlinkTitle"), error.message, {
      href: `${prefix}/account`,
      text: page.t("common.backToAccount"),
    });
  });
  app.delete("/identities/:id", session.requireSession, cannotUnlink, buttonPost, unlink);
  app.post("/identities/:id/unlink", session.requireSession, cannotUnlink, buttonPost, unlink);

  return app;
}
