// The passkey pieces other auth files use: the account page's section, the
// script's exact URLs for the hosted pages' CSP, and the ceremonies' cookies
// (enrolment, sign-in, step-up).

import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../../config.ts";
import { PASSKEY_SCRIPT_PATH } from "../pages/passkey-script.ts";
import { passkeyAccountSection } from "../pages/passkeys.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";

/** The account page's passkey section for this user ("" when passkeys are off). */
export async function passkeySection<E extends AuthEnv>(
  kit: AuthKit,
  c: Context<E>,
  user: { id: string; emailVerified: boolean },
) {
  if (!kit.passkeys) return "";
  return passkeyAccountSection(kit.page(c), {
    passkeys: await kit.passkeys.list(user.id),
    emailVerified: user.emailVerified,
  });
}

/** The script's URLs for the CSP: exactly this file, on each origin passkeys run on. */
export function passkeyScriptSources(kit: Pick<AuthKit, "config" | "prefix">): string[] {
  return (kit.config.webauthn?.origins ?? []).map(
    (origin) => `${origin}${kit.prefix}${PASSKEY_SCRIPT_PATH}`,
  );
}

export type Ceremony = "register" | "login" | "step_up" | "invite";

/**
 * A ceremony's challenge handle lives in a cookie of its own: this host
 * only, this site only, gone with the ceremony (read once, then deleted).
 */
export function ceremonyCookies(config: Pick<Config, "secure_cookies" | "cookie_name">) {
  const cookieName = (ceremony: Ceremony) =>
    `${config.secure_cookies ? "__Host-" : ""}${config.cookie_name}_passkey_${ceremony}`;
  const cookieOptions = {
    path: "/",
    httpOnly: true,
    secure: config.secure_cookies,
    sameSite: "Strict" as const,
  };
  return {
    handleOf<E extends AuthEnv>(c: Context<E>, ceremony: Ceremony): string | undefined {
      const handle = getCookie(c, cookieName(ceremony));
      deleteCookie(c, cookieName(ceremony), cookieOptions);
      return handle;
    },
    optionsAnswer<E extends AuthEnv>(
      c: Context<E>,
      ceremony: Ceremony,
      made: { handle: string; options: unknown },
    ): Response {
      setCookie(c, cookieName(ceremony), made.handle, { ...cookieOptions, maxAge: 300 });
      c.header("Cache-Control", "no-store");
      return c.json({ options: made.options });
    },
  };
}
