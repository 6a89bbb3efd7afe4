// The admin console's invitations: the list and the form that invites an
// address (with roles and an expiry), resending a new link and revoking,
// both confirmed on a page first (JSON clients post once). Behind the same
// guard as every admin route (admin-guard.ts).
import { type Context, Hono } from "hono";
import { parseRoles } from "../../accounts/admin.ts";
import { requireEmail } from "../../accounts/fields.ts";
import { registrationMode } from "../../accounts/registration-policy.ts";
import { ServiceError } from "../../errors.ts";
import { adminInvitationsPage, invitationConfirmPage } from "../pages/invitations.ts";
import { requireAdmin, wantsPage } from "./admin-guard.ts";
import { readBody } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";

export function adminInvitationRoutes(kit: AuthKit, session: SessionMiddleware) {
  const app = new Hono<AuthEnv>();
  const admin = requireAdmin(kit, session);
  const open = registrationMode(kit.config) !== "closed";
  const page = async <E extends AuthEnv>(
    c: Context<E>,
    extra: { notice?: string; error?: string; fields?: { email?: string; roles?: string } } = {},
  ) =>
    c.html(
      adminInvitationsPage(kit.page(c), {
        invitations: await kit.invitations.list(),
        open,
        ...extra,
      }),
    );
  const asPage = <E extends AuthEnv>(c: Context<E>) =>
    c.set("errorPage", async (inner: Context<AuthEnv>, error: ServiceError) => {
      const fields = inner.get("fields") ?? {};
      return adminInvitationsPage(kit.page(c), {
        invitations: await kit.invitations.list(),
        open,
        error: error.message,
        fields: {
          email: typeof fields.email === "string" ? fields.email : undefined,
          roles: typeof fields.roles === "string" ? fields.roles : undefined,
        },
      });
    });

  app.get("/admin/invitations", admin, async (c) => {
    if (!wantsPage(c)) return c.json({ invitations: await kit.invitations.list() });
    const done = c.req.query("done");
    const notice =
      done === "invite" || done === "resend" || done === "revoke"
        ? kit.page(c).t(`invitations.done.${done}`)
        : undefined;
    return page(c, { notice });
  });

  app.post("/admin/invitations", admin, readBody, async (c) => {
    asPage(c);
    const fields = c.get("fields") ?? {};
    const email = requireEmail(fields.email);
    const roles = parseRoles(fields.roles ?? []);
    const raw = fields.expiresInDays;
    const days = raw === undefined || raw === "" || raw === null ? undefined : Number(raw);
    if (days !== undefined && !Number.isInteger(days))
      throw new ServiceError("invalid_request", "The expiry must be a whole number of days.");
    const me = c.get("user");
    const invitation = await kit.invitations.create(
      { email, roles, expiresInDays: days },
      { actorId: me.id, ...kit.meta(c) },
      kit.page(c).locale,
    );
    if (!c.get("form")) return c.json({ invitation }, 201);
    return c.redirect(`${kit.prefix}/admin/invitations?done=invite`, 303);
  });

  for (const action of ["resend", "revoke"] as const)
    app.post(`/admin/invitations/:id/${action}`, admin, readBody, async (c) => {
      asPage(c);
      const id = c.req.param("id");
      const found = await kit.invitations.get(id);
      if (!found) throw new ServiceError("not_found", "No such invitation.");
      if (c.get("form") && c.get("fields")?.confirm !== "yes")
        return c.html(invitationConfirmPage(kit.page(c), { action, id, email: found.email }));
      const me = c.get("user");
      const actor = { actorId: me.id, ...kit.meta(c) };
      if (action === "resend") await kit.invitations.resend(id, actor, kit.page(c).locale);
      else await kit.invitations.revoke(id, actor);
      if (!c.get("form")) return c.json({ status: "ok" });
      return c.redirect(`${kit.prefix}/admin/invitations?done=${action}`, 303);
    });

  return app;
}
