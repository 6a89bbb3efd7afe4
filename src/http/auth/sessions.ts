// The signed-in user's sessions as JSON, and signing them out: one (owned
// ones only) or all the others. The account page's buttons post here and
// come back to the page.
import { type Context, Hono } from "hono";
import type { AuthEnv, AuthKit } from "./kit.ts";
import { wantsJson } from "./kit.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

export function sessionRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { ownSessions, prefix } = kit;
  const app = new Hono<AuthEnv>();

  app.get("/sessions", session.requireSession, async (c) => {
    const current = c.get("session");
    const list = await ownSessions.list(c.get("user").id);
    return c.json({
      sessions: list.map((one) => ({
        id: one.id,
        current: one.id === current.id,
        method: one.method,
        createdAt: one.createdAt.toISOString(),
        ip: one.ip,
        userAgent: one.userAgent,
        // SITES: the satellite a session is for (null: the home site), and the sign-in it belongs to.
        ...(kit.config.sites.sites.length > 0
          ? { site: one.site ?? null, signInId: one.signInId ?? one.id }
          : {}),
      })),
    });
  });

  const revokeOne = async (c: Context<SignedInEnv>) => {
    await ownSessions.revoke(c.get("user").id, c.req.param("id") ?? "", kit.meta(c));
    return c.req.method === "DELETE"
      ? c.json({ status: "ok" })
      : c.redirect(`${prefix}/account`, 303);
  };
  app.delete("/sessions/:id", session.requireSession, revokeOne);
  app.post("/sessions/:id/revoke", session.requireSession, revokeOne);

  app.post("/sessions/revoke-others", session.requireSession, async (c) => {
    const count = await ownSessions.revokeOthers(
      c.get("user").id,
      c.get("session").id,
      kit.meta(c),
    );
    return wantsJson(c)
      ? c.json({ status: "ok", revoked: count })
      : c.redirect(`${prefix}/account`, 303);
  });

  return app;
}
