// The hosted endpoints under AUTH_PREFIX, as one Hono app built from a
// sub-app per concern: sign-in and registration, email links, password,
// account, sessions, API keys, providers. Each serves the JSON API and the
// hosted pages' form posts alike. What stands in front of all of them is in
// guards.ts; a failed form post gets its page back, anything else the one
// JSON error shape (body.ts).
import { Hono } from "hono";
import { accountRoutes, accountView } from "./account.ts";
import { adminViewRoutes } from "./admin.ts";
import { adminActionRoutes } from "./admin-actions.ts";
import { adminInvitationRoutes } from "./admin-invitations.ts";
import { apiKeyRoutes } from "./api-keys.ts";
import { formOrJsonErrors } from "./body.ts";
import { brandAssetRoutes } from "./brand-assets.ts";
import { emailLinkRoutes } from "./email-links.ts";
import {
  bodyDeadline,
  bodySizeLimit,
  crossSiteRefusal,
  hostedPageHeaders,
  methodNotAllowed,
} from "./guards.ts";
import { invitationRoutes } from "./invitation.ts";
import { type AuthEnv, type AuthServices, authKit } from "./kit.ts";
import { localTimeRoutes, localTimeScriptSources } from "./local-time.ts";
import { localeRoutes } from "./locale.ts";
import { mfaRoutes } from "./mfa.ts";
import { mfaPasskeyRoutes } from "./mfa-passkey.ts";
import { mfaSetupRoutes } from "./mfa-setup.ts";
import { passkeyScriptSources } from "./passkey-parts.ts";
import { passkeyRoutes } from "./passkeys.ts";
import { passwordRoutes } from "./password.ts";
import { previewRoutes } from "./preview.ts";
import { providerLogoutRoutes } from "./provider-logout.ts";
import { providerRoutes } from "./providers.ts";
import { sessionMiddleware } from "./session.ts";
import { sessionRoutes } from "./sessions.ts";
import { signInRoutes } from "./sign-in.ts";
import { siteGuard, siteRoutes } from "./sites.ts";

export function authRoutes(services: AuthServices) {
  const kit = authKit(services);
  const session = sessionMiddleware(kit);
  const account = accountView(kit);
  const app = new Hono<AuthEnv>();

  // Outermost, so errors and refusals get them too.
  app.use(
    "*",
    hostedPageHeaders(
      kit.config.secure_cookies,
      { passkey: passkeyScriptSources(kit), other: localTimeScriptSources(kit.config) },
      (c) => kit.brandOf(c),
    ),
  );
  app.use("*", bodyDeadline(kit.config.body_timeout));
  app.use("*", bodySizeLimit);
  app.use("*", crossSiteRefusal(kit.prefix, kit.hostPolicy));
  // Before the site guard: a satellite's own pages link their brand's files on their own host.
  app.route("/", brandAssetRoutes(kit.brands));
  app.route("/", localTimeRoutes());
  app.use("*", siteGuard(kit));

  app.route("/", signInRoutes(kit, session));
  app.route("/", emailLinkRoutes(kit, session, account));
  app.route("/", passwordRoutes(kit, session, account));
  app.route("/", accountRoutes(kit, session, account));
  app.route("/", sessionRoutes(kit, session));
  app.route("/", apiKeyRoutes(kit, session, account));
  app.route("/", providerRoutes(kit, session));
  app.route("/", providerLogoutRoutes(kit));
  app.route("/", siteRoutes(kit, session, kit.hopCodes));
  app.route("/", mfaRoutes(kit, session));
  app.route("/", mfaPasskeyRoutes(kit, session));
  app.route("/", mfaSetupRoutes(kit, session, account));
  app.route("/", passkeyRoutes(kit, session, account));
  app.route("/", adminViewRoutes(kit, session));
  app.route("/", adminActionRoutes(kit, session));
  app.route("/", adminInvitationRoutes(kit, session));
  app.route("/", invitationRoutes(kit));
  app.route("/", previewRoutes(kit, session));
  app.route("/", localeRoutes(kit, session));

  app.all(
    "*",
    methodNotAllowed(kit.prefix, () => app.routes),
  );
  app.onError(
    formOrJsonErrors({
      log: kit.logError,
      isStoreUnavailable: kit.isStoreUnavailable,
      describe: (c, error) => kit.languages.describeError(kit.page(c).locale, error),
    }),
  );
  return app;
}
