// Signing out with OpenID Connect providers, the HTTP side (the work is in
// oauth/provider-logout.ts):
// - POST /oauth/<id>/backchannel-logout: the provider's server posts a
//   logout token (OpenID Connect Back-Channel Logout 1.0, section 2.8):
//   200 when it verified and its sessions are revoked (also when none is
//   left: the end the provider asked for holds), 400 with an OAuth-style
//   JSON error when it does not verify or was used before, always no-store.
// - GET /oauth/<id>/logged-out: where the provider sends the browser back
//   after an RP-initiated logout; it goes on to the return target carried in
//   `state`, validated here like any `rd`, else to the sign-in page.
import { type Context, Hono } from "hono";
import { decodeLandingState } from "../../oauth/provider-logout.ts";
import { LogoutTokenError } from "../../oauth/service.ts";
import { validateRedirectTarget } from "../../security/redirect-target.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";

const FORM = "application/x-www-form-urlencoded";

export function providerLogoutRoutes(kit: AuthKit) {
  const { oauth, prefix, hostPolicy } = kit;
  const app = new Hono<AuthEnv>();

  const refuse = (c: Context<AuthEnv>, status: 400 | 404 | 415 | 503, description: string) => {
    c.header("Cache-Control", "no-store");
    const error =
      status === 503 ? "temporarily_unavailable" : status === 404 ? "not_found" : "invalid_request";
    return c.json({ error, error_description: description }, status);
  };

  app.post("/oauth/:provider/backchannel-logout", async (c) => {
    const providerId = c.req.param("provider");
    if (!oauth.list().some((provider) => provider.id === providerId))
      return refuse(c, 404, "There is no such sign-in provider here.");
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== FORM)
      return refuse(c, 415, `The logout token must be posted as ${FORM} (logout_token=...).`);
    const form = new URLSearchParams(await c.req.text());
    const tokens = form.getAll("logout_token");
    if (tokens.length !== 1 || !tokens[0])
      return refuse(c, 400, "The body must carry exactly one logout_token.");
    try {
      const revoked = await oauth.backchannelLogout(providerId, tokens[0], kit.meta(c).ip);
      c.header("Cache-Control", "no-store");
      return c.json({ status: "ok", sessions: revoked }, 200);
    } catch (error) {
      if (error instanceof LogoutTokenError) return refuse(c, 400, error.message);
      if (kit.isStoreUnavailable(error)) throw error;
      // The provider's keys could not be fetched: it may try again.
      kit.logError(error, "back-channel logout");
      return refuse(c, 503, "The logout token cannot be checked right now; try again.");
    }
  });

  app.get("/oauth/:provider/logged-out", (c) => {
    const target = validateRedirectTarget(decodeLandingState(c.req.query("state")), hostPolicy);
    c.header("Cache-Control", "no-store");
    return c.redirect(target ?? `${prefix}/login`, 303);
  });

  return app;
}
