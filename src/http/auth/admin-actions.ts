// The admin console's actions on one account: set roles, disable, enable,
// sign out everywhere, resend the verification mail, send a password-reset
// link, remove a second factor, delete. A hosted page's form post without `confirm=yes` gets the
// confirmation page (the same post again, confirmed), so nothing happens on
// one stray click and nothing needs JavaScript; a JSON client posts once.
// Every action is audited with the acting admin as actor (accounts/admin.ts).
// An admin cannot disable or delete their own account, or take their own
// admin role away: another admin must, so the console cannot lock itself out.
import { type Context, Hono } from "hono";
import { parseRoles } from "../../accounts/admin.ts";
import { ServiceError } from "../../errors.ts";
import { type FactorId, parseFactorId } from "../../mfa/service.ts";
import { adminConfirmPage, adminUserPage } from "../pages/admin.ts";
import { messagePage } from "../pages/message.ts";
import { adminUserView } from "./admin.ts";
import { requireAdmin } from "./admin-guard.ts";
import { readBody } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

// remove-factor takes `factor`: totp, recovery-codes or passkey:<id> (the
// user's page has one button per factor); the user is told by mail.
export const ADMIN_ACTIONS = [
  "roles",
  "disable",
  "enable",
  "sign-out",
  "resend-verification",
  "send-password-reset",
  "remove-factor",
  "delete",
] as const;
type Action = (typeof ADMIN_ACTIONS)[number];

export function adminActionRoutes(kit: AuthKit, session: SessionMiddleware) {
  const app = new Hono<AuthEnv>();
  const admin = requireAdmin(kit, session);

  const target = async (c: Context<SignedInEnv>) => {
    const found = await kit.directory.get(c.req.param("id") ?? "");
    if (!found) throw new ServiceError("not_found", "No such user.");
    return found;
  };

  /** The factor as the confirmation names it: the app, the codes, or the passkey's name. */
  async function factorName(c: Context<SignedInEnv>, userId: string, factor: FactorId) {
    const t = kit.page(c).t;
    if (factor.kind === "totp") return t("admin.factors.totp");
    if (factor.kind === "recovery-codes") return t("admin.factors.recoveryCodes");
    const passkey = (await kit.factors.overview(userId)).passkeys.find((p) => p.id === factor.id);
    if (!passkey) throw new ServiceError("not_found", "This user has no such passkey.");
    return t("admin.factors.passkeyNamed", { name: passkey.name });
  }

  async function perform(c: Context<SignedInEnv>, action: Action): Promise<Response> {
    const found = await target(c);
    const { user } = found;
    const me = c.get("user");
    const actor = { actorId: me.id, ...kit.meta(c) };
    const fields = c.get("fields") ?? {};
    const roles = action === "roles" ? parseRoles(fields.roles ?? "") : [];
    const factor = action === "remove-factor" ? parseFactorId(fields.factor) : null;
    const self = user.id === me.id;
    if (self && (action === "disable" || action === "delete"))
      throw new ServiceError(
        "conflict",
        "You cannot do this to your own account: ask another administrator.",
      );
    if (self && action === "roles" && !roles.includes(kit.config.admin_role))
      throw new ServiceError(
        "conflict",
        "You cannot take your own admin role away: ask another administrator.",
      );
    // One's own factors change as on the account page: only after a recent proof.
    if (self && action === "remove-factor") kit.factors.requireRecentProof(c.get("session"));
    // A page's post asks first: the same post again, with confirm=yes.
    if (c.get("form") && fields.confirm !== "yes")
      return c.html(
        adminConfirmPage(kit.page(c), {
          action,
          email: user.email,
          userId: user.id,
          fields:
            action === "roles"
              ? { roles: roles.join(", ") }
              : factor
                ? { factor: String(fields.factor) }
                : {},
          values: factor ? { factor: await factorName(c, user.id, factor) } : {},
        }),
      );
    let result: Record<string, unknown> = {};
    switch (action) {
      case "roles":
        await kit.userAdmin.setRoles(user.id, roles, actor);
        result = { roles };
        break;
      case "disable":
        result = { signedOut: (await kit.userAdmin.disable(user.id, actor)).signedOut };
        break;
      case "enable":
        await kit.userAdmin.enable(user.id, actor);
        break;
      case "sign-out":
        result = { signedOut: await kit.userAdmin.signOutEverywhere(user.id, actor) };
        break;
      case "resend-verification": {
        if (user.emailVerified)
          throw new ServiceError("conflict", "This address is already confirmed.");
        await kit.emailFlows.resendVerification(user);
        kit.audit("admin.verification_sent", { userId: user.id, ...actor });
        break;
      }
      case "send-password-reset":
        await kit.emailFlows.requestPasswordReset(user.email, kit.meta(c));
        kit.audit("admin.password_reset_sent", { userId: user.id, ...actor });
        break;
      case "remove-factor":
        await kit.factors.removeFactor(user, factor as FactorId, actor);
        result = { removed: fields.factor };
        break;
      case "delete":
        await kit.userAdmin.remove(user.id, actor);
        break;
    }
    if (!c.get("form")) return c.json({ status: "ok", ...result });
    if (action === "delete") return c.redirect(`${kit.prefix}/admin/users`, 303);
    return c.redirect(
      `${kit.prefix}/admin/users/${encodeURIComponent(user.id)}?done=${action}`,
      303,
    );
  }

  for (const action of ADMIN_ACTIONS)
    app.post(`/admin/users/:id/${action}`, admin, readBody, async (c) => {
      // A failed form post gets the user's page back with the message.
      c.set("errorPage", async (inner, error) => {
        const found = await kit.directory.get(inner.req.param("id") ?? "");
        if (!found)
          return messagePage(kit.page(c), kit.page(c).t("admin.error.title"), error.message, {
            href: `${kit.prefix}/admin/users`,
            text: kit.page(c).t("admin.nav.users"),
          });
        return adminUserPage(kit.page(c), await adminUserView(kit, found), {
          error: error.message,
        });
      });
      return perform(c as unknown as Context<SignedInEnv>, action);
    });

  return app;
}
