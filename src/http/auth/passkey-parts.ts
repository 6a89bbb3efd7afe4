// The passkey pieces other auth files use: the account page's section, and
// the script's exact URLs for the hosted pages' CSP.

import type { Context } from "hono";
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
