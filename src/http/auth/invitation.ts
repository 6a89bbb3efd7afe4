// The invitee's side: the mailed link's page (GET /invitation?token=...)
// shows the invited address and a password form, a passkey form (when
// passkeys work here), or the providers; the form's post creates the account with the invitation's roles, its address
// verified, and signs it in. A link that is used, revoked or expired gets a
// page saying which (checked now, not by a cleanup job).
import { type Context, Hono } from "hono";
import { z } from "zod";
import { requireName, requireNewPassword } from "../../accounts/fields.ts";
import { ServiceError } from "../../errors.ts";
import { checkName, parseAttestation } from "../../passkeys/input.ts";
import { passkeyAmr } from "../../sessions/amr.ts";
import { acceptInvitationPage } from "../pages/invitations.ts";
import { messagePage } from "../pages/message.ts";
import { errorPage, field, optionalText, readBody, validate } from "./body.ts";
import { type AuthEnv, type AuthKit, optionalString } from "./kit.ts";
import { ceremonyCookies } from "./passkey-parts.ts";

const acceptBody = z.object({
  token: optionalText,
  password: field(requireNewPassword),
  name: field(requireName),
});

export function invitationRoutes(kit: AuthKit) {
  const { prefix } = kit;
  const app = new Hono<AuthEnv>();
  const refusal = (c: Context<AuthEnv>, message: string) => {
    const page = kit.page(c);
    return messagePage(page, page.t("invitations.accept.title"), message, {
      href: `${prefix}/login`,
      text: page.t("invitations.accept.signIn"),
    });
  };

  app.get("/invitation", async (c) => {
    const token = c.req.query("token") ?? "";
    c.set("form", true);
    c.set("errorPage", (c, error) => refusal(c, error.message));
    const { email } = await kit.invitations.check(token);
    return c.html(acceptInvitationPage(kit.page(c), { token, email }));
  });

  const formAgain = errorPage(async (c, error) => {
    const fields = c.get("fields") ?? {};
    const token = optionalString(fields.token) ?? "";
    // A form error shows the form again; a link that cannot be used, the reason.
    const invited = await kit.invitations.check(token).catch(() => null);
    if (!invited) return refusal(c, error.message);
    return acceptInvitationPage(kit.page(c), {
      token,
      email: invited.email,
      name: optionalString(fields.name),
      error: error.message,
      errorField: error.field,
    });
  });
  const { handleOf, optionsAnswer } = ceremonyCookies(kit.config);
  const passkeys = () => {
    if (!kit.passkeys) throw new ServiceError("not_found", "Passkeys are not available here.");
    return kit.passkeys;
  };

  /** The passkey form's ceremony: options for the account the invitation will create. */
  app.post("/invitation/passkey/options", async (c) => {
    const service = passkeys();
    const invited = await kit.invitations.check(c.req.query("token") ?? "");
    const made = await service.invitationOptions(
      { userId: invited.id, invitationId: invited.id, email: invited.email, name: "" },
      kit.meta(c),
    );
    return optionsAnswer(c, "invite", made);
  });

  app.post("/invitation/passkey", formAgain, readBody, async (c) => {
    const service = passkeys();
    const handle = handleOf(c, "invite");
    const fields = c.get("fields") ?? {};
    const name = requireName(fields.name);
    const passkeyName = checkName(fields.passkeyName);
    const invited = await kit.invitations.check(fields.token);
    const passkey = await service.verifyInvitationPasskey(
      invited.id,
      handle,
      parseAttestation(fields.response),
    );
    const signedIn = await kit.invitations.acceptWithPasskey(
      fields.token,
      { name, passkeyName, passkey, amr: passkeyAmr(passkey), locale: kit.page(c).locale },
      kit.meta(c),
    );
    kit.startSession(c, signedIn);
    const target = kit.config.default_redirect;
    if (c.get("form")) return c.redirect(target, 303);
    return c.json({ user: signedIn.user, redirect: target }, 201);
  });

  app.post("/invitation", formAgain, readBody, validate(acceptBody), async (c) => {
    const { token, password, name } = c.get("body");
    const signedIn = await kit.invitations.acceptWithPassword(
      token,
      { password, name, locale: kit.page(c).locale },
      kit.meta(c),
    );
    kit.startSession(c, signedIn);
    const target = kit.config.default_redirect;
    if (c.get("form")) return c.redirect(target, 303);
    return c.json({ user: signedIn.user, redirect: target }, 201);
  });

  return app;
}
