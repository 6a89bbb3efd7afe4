// The provider sign-in endpoints: start, callback, link and unlink. Every
// failure ends on a readable page, never a 500: a person is looking at it.
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { SignedIn } from "../accounts/service.ts";
import type { Config } from "../config.ts";
import { ServiceError } from "../errors.ts";
import { OAuthError, type OAuthService } from "../oauth/service.ts";
import type { ResolvedSession } from "../sessions/store.ts";
import type { AppEnv } from "./context.ts";
import { messagePage, type PageContext } from "./pages.ts";

const FLOW_COOKIE_MAX_AGE = 600;

export type OAuthRouteHelpers = {
  config: Config;
  oauth: OAuthService;
  page: PageContext;
  currentSession(c: Context<AppEnv>): Promise<ResolvedSession | null>;
  requireSession(c: Context<AppEnv>): Promise<ResolvedSession>;
  startSession(c: Context<AppEnv>, signedIn: SignedIn): void;
  /** The validated return target in ?rd=, or undefined. */
  rdFrom(c: Context<AppEnv>): string | undefined;
  meta(c: Context<AppEnv>): { ip: string | null; userAgent: string | null };
  wantsJson(c: Context<AppEnv>): boolean;
};

export function addOAuthRoutes(app: Hono<AppEnv>, helpers: OAuthRouteHelpers): void {
  const { config, oauth, page } = helpers;
  const prefix = config.auth_prefix;
  const flowCookie = `${config.session_cookie}_oauth`;
  const baseCookie = {
    path: "/",
    httpOnly: true,
    secure: config.secure_cookies,
    ...(config.cookie_domain ? { domain: config.cookie_domain } : {}),
  };

  const problemPage = (c: Context<AppEnv>, error: OAuthError) => {
    c.status(error.status);
    c.header("Cache-Control", "no-store");
    return c.html(
      messagePage(page, "Sign-in did not complete", error.message, {
        href: `${prefix}/login`,
        text: "Back to sign in",
      }),
    );
  };

  /** A link refused before it started: a JSON error for API clients, the page for browsers. */
  const linkRefused = (c: Context<AppEnv>, error: OAuthError) => {
    if (error.status === 403 && helpers.wantsJson(c))
      throw new ServiceError("email_not_verified", error.message);
    c.status(error.status);
    c.header("Cache-Control", "no-store");
    return c.html(
      messagePage(page, "The provider was not linked", error.message, {
        href: `${prefix}/account`,
        text: "Back to your account",
      }),
    );
  };

  async function begin(
    c: Context<AppEnv>,
    options: { returnTo: string | null; linkUserId?: string },
    refused: (c: Context<AppEnv>, error: OAuthError) => Response | Promise<Response> = problemPage,
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

  app.get("/oauth/:provider", (c) => begin(c, { returnTo: helpers.rdFrom(c) ?? null }));

  // Linking changes the account, so it is a POST (checked for CSRF like every
  // other), and needs a verified address.
  app.post("/oauth/:provider/link", async (c) => {
    const { user } = await helpers.requireSession(c);
    return begin(
      c,
      { returnTo: `${config.public_url.origin}${prefix}/account`, linkUserId: user.id },
      linkRefused,
    );
  });

  const callback = async (c: Context<AppEnv>) => {
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
      const current = await helpers.currentSession(c).catch(() => null);
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
        helpers.meta(c),
      );
      if (result.signedIn) helpers.startSession(c, result.signedIn);
      c.header("Cache-Control", "no-store");
      return c.redirect(result.returnTo ?? config.default_redirect, 303);
    } catch (error) {
      if (error instanceof OAuthError) return problemPage(c, error);
      throw error;
    }
  };
  app.get("/oauth/:provider/callback", callback);
  app.post("/oauth/:provider/callback", callback);

  app.get("/identities", async (c) => {
    c.header("Cache-Control", "no-store");
    const { user } = await helpers.requireSession(c);
    return c.json({ identities: await oauth.identities(user.id) });
  });

  const unlink = async (c: Context<AppEnv>) => {
    const { user } = await helpers.requireSession(c);
    try {
      await oauth.unlink(user.id, c.req.param("id") ?? "");
    } catch (error) {
      if (!(error instanceof ServiceError) || helpers.wantsJson(c) || c.req.method === "DELETE")
        throw error;
      c.status(error.code === "conflict" ? 409 : 404);
      return c.html(
        messagePage(page, "Cannot unlink", error.message, {
          href: `${prefix}/account`,
          text: "Back to your account",
        }),
      );
    }
    return c.req.method === "DELETE" || helpers.wantsJson(c)
      ? c.json({ status: "ok" })
      : c.redirect(`${prefix}/account`, 303);
  };
  app.delete("/identities/:id", unlink);
  app.post("/identities/:id/unlink", unlink);
}
