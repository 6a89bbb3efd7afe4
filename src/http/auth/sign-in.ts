// Sign in, create an account, sign out: the hosted pages and their JSON
// twins. A form post answers with a 303 to the return target, or its page
// again with the message; JSON clients get the session cookie and JSON.
import { type Context, Hono } from "hono";
import { z } from "zod";
import { requireEmail, requireName, requireNewPassword } from "../../accounts/fields.ts";
import { normalizePassword } from "../../accounts/passwords.ts";
import { logoutPage } from "../pages/logout.ts";
import { messagePage } from "../pages/message.ts";
import { loginPage, registerPage } from "../pages/sign-in.ts";
import { errorPage, field, readBody, validate } from "./body.ts";
import { type AuthEnv, type AuthKit, optionalString, wantsJson } from "./kit.ts";
import { secondStepAnswer } from "./mfa-kit.ts";
import type { SessionMiddleware } from "./session.ts";

const loginBody = z.object({
  email: field(requireEmail),
  // Anything that cannot be a password fails like a wrong one, after being counted.
  password: field(normalizePassword),
});

const registerBody = z.object({
  email: field(requireEmail),
  password: field(requireNewPassword),
  name: field(requireName),
});

/** The answer to a request whose outcome arrives by email: the same whatever the address. */
export function checkYourEmail<E extends AuthEnv>(
  kit: AuthKit,
  c: Context<E>,
  messageKey: "sign-in.registeredSent" | "sign-in.resetSent",
) {
  const page = kit.page(c);
  return messagePage(page, page.t("sign-in.checkEmailTitle"), page.t(messageKey), {
    href: `${kit.prefix}/login`,
    text: page.t("sign-in.backToSignIn"),
  });
}

export function signInRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { config, accounts, prefix } = kit;
  const registrationEnabled = config.registration_enabled;
  const app = new Hono<AuthEnv>();

  app.get("/login", (c) =>
    c.html(loginPage(kit.page(c), { rd: kit.returnTarget(c), registrationEnabled })),
  );

  app.post(
    "/login",
    errorPage((c, error) => {
      const fields = c.get("fields") ?? {};
      return loginPage(kit.page(c), {
        rd: kit.returnTarget(c, fields),
        email: optionalString(fields.email),
        error: error.message,
        errorField: error.field,
        registrationEnabled,
      });
    }),
    readBody,
    validate(loginBody),
    async (c) => {
      const signedIn = await accounts.login(c.get("body"), kit.meta(c));
      const target = kit.returnTarget(c, c.get("fields")) ?? config.default_redirect;
      if ("halfSignedIn" in signedIn)
        return secondStepAnswer(c, kit, signedIn.halfSignedIn, target, c.get("form") === true);
      kit.startSession(c, signedIn);
      if (c.get("form")) return c.redirect(target, 303);
      return c.json({ user: signedIn.user, redirect: target });
    },
  );

  app.get("/register", (c) => {
    if (!registrationEnabled) {
      c.status(403);
      const page = kit.page(c);
      return c.html(
        messagePage(page, page.t("sign-in.closedTitle"), page.t("sign-in.closedMessage")),
      );
    }
    return c.html(registerPage(kit.page(c), { rd: kit.returnTarget(c) }));
  });

  app.post(
    "/register",
    errorPage((c, error) => {
      const fields = c.get("fields") ?? {};
      return registerPage(kit.page(c), {
        rd: kit.returnTarget(c, fields),
        email: optionalString(fields.email),
        name: optionalString(fields.name),
        error: error.message,
        errorField: error.field,
      });
    }),
    readBody,
    async (_c, next) => {
      accounts.checkRegistrationOpen();
      await next();
    },
    validate(registerBody),
    async (c) => {
      // The account keeps the page's language: its mail is written in it.
      const result = await accounts.register(
        { ...c.get("body"), locale: kit.page(c).locale },
        kit.meta(c),
      );
      const target = kit.returnTarget(c, c.get("fields")) ?? config.default_redirect;
      const signedIn = "created" in result ? result.signedIn : undefined;
      if (signedIn) kit.startSession(c, signedIn);
      if (c.get("form")) {
        if (signedIn) return c.redirect(target, 303);
        return c.html(checkYourEmail(kit, c, "sign-in.registeredSent"));
      }
      // The same answer for a new and an existing address.
      return c.json({ status: "ok", redirect: target }, 201);
    },
  );

  // Signing out changes state, so it is POST only; GET shows a page with the button.
  app.get("/logout", (c) => c.html(logoutPage(kit.page(c), { rd: kit.returnTarget(c) })));

  app.post("/logout", session.signedIn(), async (c) => {
    const resolved = c.get("signedIn");
    // A session from a provider set to `logout: provider` ends there too (read before it goes).
    const provider = resolved
      ? await kit.oauth.endSessionUrl(resolved.session, kit.returnTarget(c))
      : null;
    if (resolved) await accounts.logout(resolved.session.id, resolved.user.id, kit.meta(c));
    kit.endSession(c);
    if (wantsJson(c))
      return c.json(provider ? { status: "ok", redirect: provider } : { status: "ok" });
    return c.redirect(provider ?? `${prefix}/login`, 303);
  });

  return app;
}
