// Who may reach AUTH_PREFIX/admin: a browser signed in with gatehouse's own
// session whose account holds ADMIN_ROLE, read from gatehouse's users table.
// Nothing else counts: not a bearer API key, not a trusted JWT's or an
// Auth.js cookie's roles, not the development bypass, and not the /_resolve
// rules (they decide for the applications behind the proxy; these routes
// decide for themselves). Signed out: 401 (a browser's page navigation goes
// to the login page); signed in without the role: 403, audited. State-
// changing requests from another site were already refused (guards.ts).
// When MFA_REQUIRED_ROLES names ADMIN_ROLE, the session must also have
// proven a second factor: a browser is sent to the step-up page (or to set
// one up), an API client gets 401 mfa_required (or mfa_enrolment_required).
import type { Context, MiddlewareHandler } from "hono";
import { ServiceError } from "../../errors.ts";
import { amrOf, MFA } from "../../sessions/amr.ts";
import type { SessionRecord, SessionUser } from "../../sessions/store.ts";
import { withRd } from "../pages/layout.ts";
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
 * When ADMIN_ROLE is among MFA_REQUIRED_ROLES, the console needs a session
 * that proved a second factor (its amr has mfa: a code, a passkey step-up,
 * a passkey sign-in). What is missing: a factor to set up (the user has
 * none) or to prove; null when nothing is.
 */
export function secondFactorMissing(
  config: { admin_role: string; mfa_required_roles: string[] },
  user: SessionUser,
  session: SessionRecord,
): "mfa_required" | "mfa_enrolment_required" | null {
  if (!config.mfa_required_roles.includes(config.admin_role)) return null;
  if (amrOf(session).includes(MFA)) return null;
  return user.secondFactor ? "mfa_required" : "mfa_enrolment_required";
}

export function requireAdmin(kit: AuthKit, session: SessionMiddleware) {
  const role = kit.config.admin_role;
  /** This page's address, to come back to after signing in or proving a factor. */
  const here = (c: Context) => {
    const url = new URL(c.req.url);
    return `${kit.config.public_url.origin}${url.pathname}${url.search}`;
  };
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
      if (wantsPage(c)) return c.redirect(withRd(`${kit.prefix}/login`, here(c)), 302);
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
    const missing = secondFactorMissing(kit.config, user, record);
    if (missing) {
      // A browser goes to prove (or set up) the factor and comes back; an API client is told.
      const page = missing === "mfa_required" ? "mfa" : "mfa/setup";
      if (wantsPage(c)) return c.redirect(withRd(`${kit.prefix}/${page}`, here(c)), 302);
      throw new ServiceError(
        missing,
        missing === "mfa_required"
          ? "The admin console needs a second factor: prove one on the step-up page."
          : "The admin console needs a second factor: set one up first.",
      );
    }
    c.set("signedIn", resolved);
    c.set("user", user);
    c.set("session", record);
    c.header("Cache-Control", "no-store");
    await next();
  }) as MiddlewareHandler<SignedInEnv>;
}
