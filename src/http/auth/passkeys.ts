// Passkeys over HTTP: the ceremonies' options (JSON, with the challenge's
// handle in a cookie of its own), enrolment, rename and removal for the
// signed-in user, and passwordless sign-in. The hosted pages post the
// browser's answer as a form and get a page back; API clients post JSON
// and get JSON. Without a relying party (passkeys/settings.ts) every route
// here is a 404 and the pages show no passkey controls.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { ServiceError } from "../../errors.ts";
import { parseAssertion, parseAttestation } from "../../passkeys/input.ts";
import type { PasskeyService } from "../../passkeys/service.ts";
import {
  PASSKEY_SCRIPT,
  PASSKEY_SCRIPT_PATH,
  PASSKEY_SCRIPT_VERSION,
} from "../pages/passkey-script.ts";
import { loginPage } from "../pages/sign-in.ts";
import type { AccountView } from "./account.ts";
import { buttonPost, errorPage, readBody } from "./body.ts";
import { type AuthEnv, type AuthKit, wantsJson } from "./kit.ts";
import { ceremonyCookies } from "./passkey-parts.ts";
import { scriptFile } from "./script-file.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

export function passkeyRoutes(kit: AuthKit, session: SessionMiddleware, account: AccountView) {
  const { config } = kit;
  const app = new Hono<AuthEnv>();
  const service = kit.passkeys;
  const { handleOf, optionsAnswer } = ceremonyCookies(config);
  const enabled: MiddlewareHandler<AuthEnv> = async (_c, next) => {
    if (!service)
      throw new ServiceError(
        "not_found",
        "Passkeys are not available here: PUBLIC_URL must be https (or http://localhost) on a domain name.",
      );
    await next();
  };
  const passkeys = () => service as PasskeyService;

  app.get(PASSKEY_SCRIPT_PATH, enabled, scriptFile(PASSKEY_SCRIPT, PASSKEY_SCRIPT_VERSION));

  app.get("/passkeys", enabled, session.requireSession, async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ passkeys: await passkeys().list(c.get("user").id) });
  });

  app.post("/passkeys/register/options", enabled, session.requireSession, async (c) => {
    const user = c.get("user");
    if (!user.emailVerified)
      throw new ServiceError(
        "email_not_verified",
        "Confirm your email address before adding a passkey.",
      );
    return optionsAnswer(
      c,
      "register",
      await passkeys().registrationOptions(user, c.get("session"), kit.meta(c)),
    );
  });

  app.post(
    "/passkeys/register",
    enabled,
    session.requireSession,
    errorPage(account.errorPage),
    readBody,
    async (c) => {
      const handle = handleOf(c, "register");
      const fields = c.get("fields") ?? {};
      const created = await passkeys().register({
        user: c.get("user"),
        session: c.get("session"),
        handle,
        response: parseAttestation(fields.response),
        name: typeof fields.name === "string" ? fields.name : "",
        meta: kit.meta(c),
      });
      if (c.get("form"))
        return account.render(c, {
          notice: kit.page(c).t("passkeys.addedNotice", { name: created.name }),
        });
      return c.json({ passkey: created }, 201);
    },
  );

  const rename = async (c: Context<SignedInEnv>) => {
    const fields = c.get("fields") ?? {};
    const renamed = await passkeys().rename(
      c.get("user").id,
      c.req.param("id") ?? "",
      typeof fields.name === "string" ? fields.name : "",
    );
    if (c.get("form"))
      return account.render(c, {
        notice: kit.page(c).t("passkeys.renamedNotice", { name: renamed.name }),
      });
    return c.json({ passkey: renamed });
  };
  app.post(
    "/passkeys/:id/rename",
    enabled,
    session.requireSession,
    errorPage(account.errorPage),
    readBody,
    rename,
  );
  app.patch("/passkeys/:id", enabled, session.requireSession, readBody, rename);

  const remove = async (c: Context<SignedInEnv>) => {
    await passkeys().remove({
      user: c.get("user"),
      id: c.req.param("id") ?? "",
      session: c.get("session"),
      meta: kit.meta(c),
    });
    if (c.get("form"))
      return account.render(c, { notice: kit.page(c).t("passkeys.removedNotice") });
    return c.json({ status: "ok" });
  };
  app.post(
    "/passkeys/:id/remove",
    enabled,
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    remove,
  );
  app.delete("/passkeys/:id", enabled, session.requireSession, buttonPost, remove);

  app.post("/passkeys/login/options", enabled, async (c) =>
    optionsAnswer(c, "login", await passkeys().signInOptions(kit.meta(c))),
  );

  app.post(
    "/passkeys/login",
    enabled,
    errorPage((c, error) =>
      loginPage(kit.page(c), {
        rd: kit.returnTarget(c, c.get("fields")),
        error: error.message,
        registrationEnabled: config.registration_enabled,
      }),
    ),
    readBody,
    async (c) => {
      const handle = handleOf(c, "login");
      const signedIn = await passkeys().signIn({
        handle,
        response: parseAssertion(c.get("fields")?.response),
        meta: kit.meta(c),
      });
      kit.startSession(c, signedIn);
      const target = kit.returnTarget(c, c.get("fields")) ?? config.default_redirect;
      if (c.get("form") && !wantsJson(c)) return c.redirect(target, 303);
      return c.json({ user: signedIn.user, redirect: target });
    },
  );

  return app;
}
