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
    return messagePage(kit.page(c), "This link does not work", message, {
      href: again,
      text: "Ask for a new link",
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
          return c.html(linkFailed(c, error.message, again), 400);
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
      const { removed, signedIn } = await emailFlows.confirmVerification(
        c.get("body").token,
        kit.meta(c),
        presenting && {
          sessionId: presenting.session.id,
          userId: presenting.user.id,
          method: presenting.session.method,
        },
      );
      c.header("Cache-Control", "no-store");
      if (!c.get("form")) return c.json({ status: "ok", removed });
      // Confirmed from a browser not signed in to the account: whoever set
      // its password may not be the address's owner.
      const notMine = removed && !signedIn;
      return c.html(
        messagePage(
          kit.page(c),
          "Address confirmed",
          removed
            ? `Thank you: your email address is confirmed. ${emailFlows.describeRemoved(removed)}${notMine ? " If you did not create this account yourself, choose a new password now: its password was set by whoever registered it." : ""}`
            : "Thank you: your email address is confirmed.",
          notMine
            ? { href: `${prefix}/forgot-password`, text: "Choose a new password" }
            : { href: config.default_redirect, text: "Continue" },
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
      const { alreadyVerified } = await emailFlows.resendVerification(user);
      if (wantsJson(c)) return c.json({ status: alreadyVerified ? "already_verified" : "sent" });
      return account.render(c, {
        notice: alreadyVerified
          ? "Your address is already confirmed."
          : `We have sent a new confirmation link to ${user.email}.`,
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
      await emailFlows.requestPasswordReset(c.get("body").email, kit.meta(c));
      if (!c.get("form")) return c.json({ status: "ok" }, 202);
      return c.html(
        checkYourEmail(
          kit,
          c,
          "If an account uses this address, we have sent it a link to choose a new password.",
        ),
      );
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
      const { removed } = await emailFlows.resetPassword(token, password, kit.meta(c));
      kit.endSession(c);
      if (!c.get("form")) return c.json({ status: "ok", removed });
      return c.html(
        loginPage(kit.page(c), {
          notice: `Your password was changed and every session signed out.${removed ? ` ${emailFlows.describeRemoved(removed)}` : ""} Sign in with the new password.`,
          registrationEnabled: config.registration_enabled,
        }),
      );
    },
  );

  return app;
}
