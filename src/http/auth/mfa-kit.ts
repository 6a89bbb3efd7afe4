// What the sign-in routes (password, provider) and the step-up routes share
// about a half sign-in: its cookie (its own, never the session cookie, so
// nothing that reads sessions can take it for one, and scoped to the hosted
// pages, so no application sees it) and the answer that sends
// the browser to the second step.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { PENDING_TTL_MS } from "../../mfa/pending.ts";
import { withRd } from "../pages/layout.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";

export function halfSignInCookie(kit: AuthKit) {
  const { config } = kit;
  // Sent to the hosted pages only (Path=AUTH_PREFIX), never to the applications
  // behind the proxy: so __Secure-, as __Host- would need Path=/.
  const name = `${config.secure_cookies ? "__Secure-" : ""}${config.cookie_name}_mfa`;
  const options = {
    path: config.auth_prefix,
    httpOnly: true,
    secure: config.secure_cookies,
    sameSite: "Lax" as const,
    ...(config.cookie_domain ? { domain: config.cookie_domain } : {}),
  };
  return {
    read: <E extends AuthEnv>(c: Context<E>) => getCookie(c, name),
    set: <E extends AuthEnv>(c: Context<E>, token: string) =>
      setCookie(c, name, token, { ...options, maxAge: PENDING_TTL_MS / 1000 }),
    clear: <E extends AuthEnv>(c: Context<E>) => deleteCookie(c, name, options),
  };
}

/**
 * The first factor was right and a second is owed: the half sign-in's
 * cookie, then the step-up page (a 303 for a form, JSON saying so for API
 * clients, which post the code to /mfa/verify with that cookie).
 */
export function secondStepAnswer<E extends AuthEnv>(
  c: Context<E>,
  kit: AuthKit,
  token: string,
  target: string | undefined,
  form: boolean,
): Response {
  halfSignInCookie(kit).set(c, token);
  const next = withRd(`${kit.prefix}/mfa`, target);
  c.header("Cache-Control", "no-store");
  if (form) return c.redirect(next, 303);
  return c.json({ status: "mfa_required", redirect: next, verify: `${kit.prefix}/mfa/verify` });
}
