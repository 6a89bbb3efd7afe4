// Who may reach AUTH_PREFIX/admin: a browser signed in with gatehouse's own
// session whose account holds ADMIN_ROLE, read from gatehouse's users table.
// Nothing else counts: not a bearer API key, not a trusted JWT's or an
// Auth.js cookie's roles, not the development bypass, and not the /_resolve
// rules (they decide for the applications behind the proxy; these routes
// decide for themselves). Signed out: 401 (a browser's page navigation goes
// to the login page); signed in without the role: 403, audited. State-
// changing requests from another site were already refused (guards.ts).
import type { Context, MiddlewareHandler } from "hono";
import type { Config } from "../../config.ts";
import { ServiceError } from "../../errors.ts";
import { amrOf, MFA } from "../../sessions/amr.ts";
import type { SessionRecord, SessionUser } from "../../sessions/store.ts";
import { messagePage } from "../pages/message.ts";
import type { AuthKit } from "./kit.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

/** A page navigation (not an API client): it gets pages and redirects. */
export function wantsPage(c: Context): boolean {
  const accept = c.req.header("accept") ?? "";
  return (
    !accept.includes("application/json") && (c.req.method === "GET" || c.req.method === "HEAD")
  );
}

/**
 * MFA_REQUIRED_ROLES naming ADMIN_ROLE: the console needs a session that
 * proved a second factor. Without one set up, 403 `mfa_enrolment_required`
 * (the set-up page); with one, 403 `mfa_required` (the step-up page). A
 * browser's page navigation is sent to that page instead.
 */
export function secondFactorRefusal(
  config: Pick<Config, "admin_role" | "mfa_required_roles">,
  user: SessionUser,
  session: SessionRecord,
): { error: ServiceError; page: "/mfa" | "/mfa/setup" } | null {
  if (!config.mfa_required_roles.includes(config.admin_role)) return null;
  if (amrOf(session).includes(MFA)) return null;
  return user.secondFactor
    ? {
        error: new ServiceError(
          "mfa_required",
          "Prove your second factor to use the admin console.",
        ),
        page: "/mfa",
      }
    : {
        error: new ServiceError(
          "mfa_enrolment_required",
          "Set up a second factor to use the admin console.",
        ),
        page: "/mfa/setup",
      };
}

export function requireAdmin(kit: AuthKit, session: SessionMiddleware) {
  const role = kit.config.admin_role;
  return (async (c, next) => {
    // A browser gets its refusals and errors as a page.
    if (wantsPage(c)) {
      c.set("form", true);
      c.set("errorPage", (_c, error) =>
        messagePage(kit.page(c), kit.page(c).t("admin.error.title"), error.message, {
          href: `${kit.prefix}/admin/users`,
          text: kit.page(c).t("admin.nav.users"),
        }),
      );
    }
    const resolved = await session.lookUp(c);
    if (!resolved) {
      if (wantsPage(c)) {
        const here = `${kit.config.public_url.origin}${c.req.path}`;
        return c.redirect(`${kit.prefix}/login?rd=${encodeURIComponent(here)}`, 302);
      }
      throw new ServiceError("unauthenticated", "Sign in to continue.");
    }
    const { user, session: record } = resolved;
    if (!user.roles.includes(role)) {
      kit.audit("admin.denied", {
        userId: user.id,
        ...kit.meta(c),
        detail: { method: c.req.method, path: c.req.path.slice(0, 200) },
      });
      throw new ServiceError("forbidden", "This page is for administrators.");
    }
    const refusal = secondFactorRefusal(kit.config, user, record);
    if (refusal) {
      if (wantsPage(c)) {
        const here = `${kit.config.public_url.origin}${c.req.path}`;
        return c.redirect(`${kit.prefix}${refusal.page}?rd=${encodeURIComponent(here)}`, 302);
      }
      throw refusal.error;
    }
    c.set("signedIn", resolved);
    c.set("user", user);
    c.set("session", record);
    c.header("Cache-Control", "no-store");
    await next();
  }) as MiddlewareHandler<SignedInEnv>;
}
