// The account page and "who am I": the page lists what the user can manage
// (address, providers, password, sessions, API keys); each section's form
// posts to its own sub-app and gets this page back, with a notice or the
// error, through `accountView`.
import { type Context, Hono } from "hono";
import type { ServiceError } from "../../errors.ts";
import type { SessionRecord } from "../../sessions/store.ts";
import { accountPage } from "../pages/account.ts";
import type { AuthEnv, AuthKit, ErrorPage } from "./kit.ts";
import { passkeySection } from "./passkey-parts.ts";
import type { SessionMiddleware } from "./session.ts";

export type AccountExtras = {
  /** A key just created, shown this once. */
  newKey?: { name: string; key: string };
  error?: string;
  notice?: string;
};

export type AccountView = {
  /** The page of the signed-in user (`signedIn`), with what just happened. */
  render<E extends AuthEnv>(c: Context<E>, extra?: AccountExtras): Promise<Response>;
  /** For a failed form on the page: the page again, with the message. */
  errorPage: ErrorPage;
};

export function accountView(kit: AuthKit): AccountView {
  const content = async <E extends AuthEnv>(c: Context<E>, extra: AccountExtras) => {
    const resolved = c.get("signedIn");
    if (!resolved) throw new Error("the account page needs a signed-in browser");
    const { user, session } = resolved;
    return accountPage(kit.page(c), {
      user,
      sessions: await kit.ownSessions.list(user.id),
      currentSessionId: session.id,
      apiKeys: await kit.apiKeys.list(user.id),
      identities: await kit.oauth.identities(user.id),
      factors: await kit.factors.summary(user.id),
      passkeys: await passkeySection(kit, c, user),
      securityEvents: await kit.audits.list({ userId: user.id, limit: 10 }),
      ...extra,
    });
  };
  return {
    async render(c, extra = {}) {
      c.header("Cache-Control", "no-store");
      return c.html(await content(c, extra));
    },
    errorPage: (c, error: ServiceError) => {
      c.header("Cache-Control", "no-store");
      return content(c, { error: error.message });
    },
  };
}

export function accountRoutes(kit: AuthKit, session: SessionMiddleware, view: AccountView) {
  const { config, prefix } = kit;
  const app = new Hono<AuthEnv>();

  app.get("/account", session.signedIn(), async (c) => {
    if (!c.get("signedIn"))
      return c.redirect(
        `${prefix}/login?rd=${encodeURIComponent(`${config.public_url.origin}${prefix}/account`)}`,
        302,
      );
    return view.render(c);
  });

  app.get("/userinfo", session.requireSession, (c) => {
    c.header("Cache-Control", "no-store");
    const user = c.get("user");
    const session = c.get("session");
    // Front ends call this on start: a session from before XSRF was switched on gets its token.
    kit.keepXsrfCookie(c, session.id);
    return c.json({
      id: user.id,
      email: user.email,
      emailVerified: user.emailVerified,
      name: user.name,
      roles: user.roles,
      method: session.method,
      authenticatedAt: session.authenticatedAt.toISOString(),
      session: sessionTimes(session),
    });
  });

  // For apps that poll: extends the idle window now (same-origin, like every
  // unsafe endpoint here, and XSRF-checked when some rule checks XSRF).
  app.post("/session/refresh", session.requireSession, async (c) => {
    kit.checkXsrf(c, c.get("session").id);
    c.header("Cache-Control", "no-store");
    const signedIn = c.get("signedIn");
    if (!signedIn) throw new Error("requireSession sets signedIn");
    return c.json({ session: sessionTimes(await kit.sessions.extend(signedIn)) });
  });

  return app;
}

/** What a front end needs to know of its session: when it ends, and how it was signed in. */
function sessionTimes(session: SessionRecord) {
  return {
    idleExpiresAt: session.idleExpiresAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
    authenticatedAt: session.authenticatedAt.toISOString(),
    methods: [session.method],
  };
}
