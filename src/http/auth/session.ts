// The signed-in browser, as context variables. `signedIn` looks the session
// cookie up (null when there is none); `requireSession` answers 401 without
// one and gives the handler `user` and `session`, typed. A session store that
// cannot answer is a 503, never "signed out": a sign-out would be a lie, and
// the next request may well succeed.
import type { Context, MiddlewareHandler } from "hono";
import { ServiceError } from "../../errors.ts";
import type { ResolvedSession, SessionRecord, SessionUser } from "../../sessions/store.ts";
import { cookieValues } from "../context.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";

export type SignedInEnv = AuthEnv & { Variables: { user: SessionUser; session: SessionRecord } };

export function sessionMiddleware(kit: AuthKit) {
  async function lookUp<E extends AuthEnv>(c: Context<E>): Promise<ResolvedSession | null> {
    try {
      const cookie = kit.siteCookie(c).name;
      const found = await kit.sessions.validateAny(cookieValues(c.req.header("cookie"), cookie));
      return found && kit.sessionFits(c, found.session) ? found : null;
    } catch (error) {
      kit.logError(error, "session lookup");
      throw new ServiceError("unavailable", "Sessions cannot be checked right now.", 1);
    }
  }

  return {
    /** The browser's session, or null; throws `unavailable` when the store cannot answer. */
    lookUp,

    /**
     * Sets `signedIn` to the browser's session or null. `whenUnavailable:
     * "anonymous"` treats a store that cannot answer as no session (for
     * routes that only keep something for a signed-in browser).
     */
    signedIn(
      options: { whenUnavailable?: "refuse" | "anonymous" } = {},
    ): MiddlewareHandler<AuthEnv> {
      const anonymous = options.whenUnavailable === "anonymous";
      return async (c, next) => {
        c.set("signedIn", await (anonymous ? lookUp(c).catch(() => null) : lookUp(c)));
        await next();
      };
    },

    /** 401 without a live session; otherwise `user` and `session` for the handler. */
    requireSession: (async (c, next) => {
      const resolved = await lookUp(c);
      if (!resolved) throw new ServiceError("unauthenticated", "Sign in to continue.");
      c.set("signedIn", resolved);
      c.set("user", resolved.user);
      c.set("session", resolved.session);
      await next();
    }) as MiddlewareHandler<SignedInEnv>,
  };
}

export type SessionMiddleware = ReturnType<typeof sessionMiddleware>;
