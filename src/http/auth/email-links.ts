// The links sent by email: confirming an address (and sending the message
// again), asking for a reset link, choosing a new password. A link's GET
// shows a page whose button POSTs, so a mail scanner that follows the link
// uses nothing up; a link that no longer works says so, with a way to ask
// for a new one.
import { type Context, Hono } from "hono";
import { z } from "zod";
import { requireEmail } from "../../accounts/fields.ts";
import type { TokenPurpose } from "../../accounts/link-tokens.ts";
import { ServiceError } from "../../errors.ts";
import { messagePage } from "../pages/message.ts";
import {
  forgotPasswordPage,
  loginPage,
  resetPasswordPage,
  verifyEmailPage,
} from "../pages/sign-in.ts";
import type { AccountView } from "./account.ts";
import { buttonPost, errorPage, field, optionalText, readBody, validate } from "./body.ts";
import { type AuthEnv, type AuthKit, optionalString, wantsJson } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";
import { checkYourEmail } from "./sign-in.ts";

/** A link's token: text, or nothing that could be one. */
const linkToken = z.unknown().transform((value) => (typeof value === "string" ? value : ""));

const confirmBody = z.object({ token: linkToken });
const forgotBody = z.object({ email: field(requireEmail) });
// The new password is checked after the link: a dead link says so first.
const resetBody = z.object({ token: linkToken, password: optionalText });

export function emailLinkRoutes(kit: AuthKit, session: SessionMiddleware, account: AccountView) {
  const { config, emailFlows, prefix } = kit;
  const app = new Hono<AuthEnv>();

  /** The page of a link that does not work (its status is the error's: 400). */
  const linkFailed = (c: Context<AuthEnv>, message: string, again: string) => {
    c.header("Cache-Control", "no-store");
    const page = kit.page(c);
    return messagePage(page, page.t("sign-in.linkFailedTitle"), message, {
      href: again,
      text: page.t("sign-in.askNewLink"),
    });
  };

  /** The page a link opens, when the link would still work. */
  const linkPage =
    (
      purpose: TokenPurpose,
      again: string,
      show: (c: Context<AuthEnv>, token: string) => ReturnType<typeof loginPage>,
    ) =>
    async (c: Context<AuthEnv>) => {
      const token = c.req.query("token") ?? "";
      try {
        await emailFlows.checkLink(token, purpose);
      } catch (error) {
        if (error instanceof ServiceError && error.code === "invalid_token")
          return c.html(
            linkFailed(c, kit.languages.describeError(kit.page(c).locale, error), again),
            400,
          );
        throw error;
      }
      c.header("Cache-Control", "no-store");
      return c.html(show(c, token));
    };

  app.get(
    "/verify-email",
    linkPage("verify_email", `${prefix}/account`, (c, token) =>
      verifyEmailPage(kit.page(c), { token }),
    ),
  );

  app.post(
    "/verify-email",
    errorPage((c, error) => linkFailed(c, error.message, `${prefix}/account`)),
    readBody,
    // The browser presenting the link keeps its own session (it holds the
    // account and the mailbox); a store that cannot say keeps nothing.
    session.signedIn({ whenUnavailable: "anonymous" }),
    validate(confirmBody),
    async (c) => {
      const presenting = c.get("signedIn");
      const page = kit.page(c);
      const { removed, signedIn } = await emailFlows.confirmVerification(
        c.get("body").token,
        kit.meta(c),
        presenting && {
          sessionId: presenting.session.id,
          userId: presenting.user.id,
          method: presenting.session.method,
        },
        page.locale,
      );
      c.header("Cache-Control", "no-store");
      if (!c.get("form")) return c.json({ status: "ok", removed });
      // Confirmed from a browser not signed in to the account: whoever set
      // its password may not be the address's owner.
      const notMine = removed && !signedIn;
      const { t } = page;
      const sentences = [t("sign-in.confirmedThanks")];
      if (removed) sentences.push(emailFlows.describeRemoved(removed, t));
      if (notMine) sentences.push(t("sign-in.confirmedNotMine"));
      return c.html(
        messagePage(
          page,
          t("sign-in.confirmedTitle"),
          sentences.join(" "),
          notMine
            ? { href: `${prefix}/forgot-password`, text: t("sign-in.chooseNewPassword") }
            : { href: config.default_redirect, text: t("common.continue") },
        ),
      );
    },
  );

  app.post(
    "/verify-email/resend",
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    async (c) => {
      const user = c.get("user");
      const { t, locale } = kit.page(c);
      const { alreadyVerified } = await emailFlows.resendVerification(user, locale);
      if (wantsJson(c)) return c.json({ status: alreadyVerified ? "already_verified" : "sent" });
      return account.render(c, {
        notice: alreadyVerified
          ? t("account.alreadyConfirmed")
          : t("account.confirmationSent", { email: user.email }),
      });
    },
  );

  app.get("/forgot-password", (c) => c.html(forgotPasswordPage(kit.page(c), {})));

  app.post(
    "/forgot-password",
    errorPage((c, error) =>
      forgotPasswordPage(kit.page(c), {
        email: optionalString(c.get("fields")?.email),
        error: error.message,
      }),
    ),
    readBody,
    validate(forgotBody),
    async (c) => {
      await emailFlows.requestPasswordReset(c.get("body").email, kit.meta(c), kit.page(c).locale);
      if (!c.get("form")) return c.json({ status: "ok" }, 202);
      return c.html(checkYourEmail(kit, c, "sign-in.resetSent"));
    },
  );

  app.get(
    "/reset-password",
    linkPage("reset_password", `${prefix}/forgot-password`, (c, token) =>
      resetPasswordPage(kit.page(c), { token }),
    ),
  );

  app.post(
    "/reset-password",
    errorPage((c, error) =>
      error.code === "invalid_token"
        ? linkFailed(c, error.message, `${prefix}/forgot-password`)
        : resetPasswordPage(kit.page(c), {
            token: optionalString(c.get("fields")?.token) ?? "",
            error: error.message,
          }),
    ),
    readBody,
    validate(resetBody),
    async (c) => {
      const { token, password } = c.get("body");
      const page = kit.page(c);
      const { removed } = await emailFlows.resetPassword(token, password, kit.meta(c), page.locale);
      kit.endSession(c);
      if (!c.get("form")) return c.json({ status: "ok", removed });
      const { t } = page;
      const notice = [t("sign-in.passwordResetDone")];
      if (removed) notice.push(emailFlows.describeRemoved(removed, t));
      notice.push(t("sign-in.signInWithNew"));
      return c.html(
        loginPage(page, {
          notice: notice.join(" "),
          registrationEnabled: config.registration_enabled,
        }),
      );
    },
  );

  return app;
}
