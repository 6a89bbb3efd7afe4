// Changing the password of a signed-in account: the current one is needed
// (wrong guesses count against the sign-in limits), other sessions can be
// signed out, and the account page comes back with what happened.
import { Hono } from "hono";
import { z } from "zod";
import { requireNewPassword } from "../../accounts/fields.ts";
import { normalizePassword } from "../../accounts/passwords.ts";
import type { AccountView } from "./account.ts";
import { checkbox, errorPage, field, readBody, validate } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";

const changeBody = z.object({
  // The new password first: a weak one is refused before the current one is checked.
  newPassword: field(requireNewPassword),
  currentPassword: field(normalizePassword),
  signOutOthers: checkbox,
});

export function passwordRoutes(kit: AuthKit, session: SessionMiddleware, account: AccountView) {
  const app = new Hono<AuthEnv>();

  app.post(
    "/password",
    session.requireSession,
    errorPage(account.errorPage),
    readBody,
    validate(changeBody),
    async (c) => {
      const { signedOut } = await kit.accounts.changePassword(
        { user: c.get("user"), sessionId: c.get("session").id },
        c.get("body"),
        kit.meta(c),
      );
      if (!c.get("form")) return c.json({ status: "ok", signedOut });
      const { t } = kit.page(c);
      return account.render(c, {
        notice:
          signedOut > 0
            ? t("account.passwordChangedSignedOut", { count: signedOut })
            : t("account.passwordChanged"),
      });
    },
  );

  return app;
}
