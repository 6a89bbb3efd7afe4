// The hop between sites (SITES): how a browser signed in at the home site
// gets its own session on a satellite, without typing anything.
//
//   satellite /sites/start?rd=…    state cookie on the satellite, 302 to home
//   home      /sites/authorize     home session? 302 back with a one-time code
//                                  (none: the login page first, then here again)
//   satellite /sites/callback?code the code exchanged server-side; the
//                                  satellite's own session cookie; 302 to rd
//
// Invariant: an unknown host, a return target off the satellite's own site,
// a missing or different state, a used, expired or foreign code, or an
// ended sign-in creates nothing and gets a 400 page saying which.
// No password is checked here: the hop costs no argon2 work.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { xsrfInUse } from "../../config.ts";
import { FALLBACK_LOCALE, translator } from "../../i18n/catalogue.ts";
import { generateToken, isWellFormedToken } from "../../kernel/tokens.ts";
import { validateRedirectTarget } from "../../security/redirect-target.ts";
import { xsrfTokenFor } from "../../sessions/xsrf.ts";
import type { HopCodes } from "../../sites/hop-codes.ts";
import { normalizeHost, originOf, type Site, siteOf } from "../../sites/sites.ts";
import { messagePage } from "../pages/message.ts";
import { type AuthEnv, type AuthKit, wantsJson } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";

type Refusal =
  | "unknown_site"
  | "home_only"
  | "bad_return"
  | "missing_state"
  | "unknown_code"
  | "wrong_site"
  | "wrong_state"
  | "signed_out"
  | "already_signed_in";

/** How long a browser may take from the satellite to the home site (a sign-in included) and back. */
const STATE_MAX_AGE = 600;
/** JSON messages stay English. */
const ENGLISH = translator(FALLBACK_LOCALE);
/** What a satellite serves itself; every other page lives on the home site. */
const SATELLITE_PATHS = new Set(["/sites/start", "/sites/callback", "/logout", "/userinfo"]);

export function siteRoutes(kit: AuthKit, session: SessionMiddleware, codes: HopCodes) {
  const { config, prefix } = kit;
  const table = config.sites;
  const stateCookie = `${config.secure_cookies ? "__Host-" : ""}${config.cookie_name}_site`;
  const stateOptions = {
    path: "/",
    httpOnly: true,
    secure: config.secure_cookies,
    sameSite: "Lax" as const,
  };
  const app = new Hono<AuthEnv>();

  const refuse = (c: Context<AuthEnv>, refusal: Refusal) => refusalAnswer(kit, c, refusal);

  /** A target on `site` (any of its hosts), as the redirect policy parses it; undefined otherwise. */
  const onSite = (rd: string | undefined, site: Site, host: string) => {
    if (rd === undefined || rd === "") return `${originOf(table, host)}/`;
    const target = validateRedirectTarget(rd, {
      publicUrl: new URL(originOf(table, host)),
      allowedHosts: [],
      sites: table,
    });
    return target && siteOf(table, new URL(target).host) === site ? target : undefined;
  };

  /** The request's host and its satellite, or the refusal. */
  const satellite = (
    c: Context<AuthEnv>,
  ): { refusal: Refusal } | { refusal?: undefined; host: string; site: Site } => {
    const host = normalizeHost(kit.requestHost(c), table.protocol);
    const site = kit.siteOf(c);
    if (!host || !site) return { refusal: "unknown_site" };
    if (site.home) return { refusal: "home_only" };
    return { host, site };
  };

  app.get("/sites/start", async (c) => {
    const here = satellite(c);
    if (here.refusal) return refuse(c, here.refusal);
    const target = onSite(c.req.query("rd"), here.site, here.host);
    if (!target) return refuse(c, "bad_return");
    // Signed in here and still sent here: a proxy that reports another host; hopping again would loop.
    if (await session.lookUp(c)) return refuse(c, "already_signed_in");
    const state = generateToken();
    setCookie(c, stateCookie, state, { ...stateOptions, maxAge: STATE_MAX_AGE });
    const query = new URLSearchParams({ host: here.host, state, rd: target });
    return c.redirect(`${config.public_url.origin}${prefix}/sites/authorize?${query}`, 302);
  });

  app.get("/sites/authorize", async (c) => {
    const host = normalizeHost(c.req.query("host"), table.protocol);
    const site = host ? siteOf(table, host) : undefined;
    if (!host || !site) return refuse(c, "unknown_site");
    if (site.home) return refuse(c, "home_only");
    const state = c.req.query("state");
    if (!isWellFormedToken(state)) return refuse(c, "missing_state");
    const target = onSite(c.req.query("rd"), site, host);
    if (!target) return refuse(c, "bad_return");
    const signedIn = await session.lookUp(c);
    if (!signedIn) {
      // Sign in at home first; the login page sends the browser back here.
      const again = `${config.public_url.origin}${prefix}/sites/authorize?${new URLSearchParams({ host, state, rd: target })}`;
      return c.redirect(`${config.login_url}?rd=${encodeURIComponent(again)}`, 302);
    }
    const code = await codes.issue({
      signInId: signedIn.session.signInId ?? signedIn.session.id,
      userId: signedIn.user.id,
      host,
      site: site.domain,
      state,
      returnTo: target,
    });
    return c.redirect(`${originOf(table, host)}${prefix}/sites/callback?code=${code}`, 302);
  });

  app.get("/sites/callback", async (c) => {
    const here = satellite(c);
    if (here.refusal) return refuse(c, here.refusal);
    const code = c.req.query("code") ?? "";
    const state = getCookie(c, stateCookie);
    if (!state) {
      await codes.burn(code);
      return refuse(c, "missing_state");
    }
    deleteCookie(c, stateCookie, stateOptions);
    const result = await codes.exchange({ code, host: here.host, state, meta: kit.meta(c) });
    if ("refused" in result) return refuse(c, result.refused);
    const target = onSite(result.returnTo, here.site, here.host);
    if (!target) return refuse(c, "bad_return");
    const cookie = kit.siteCookie(c);
    const maxAge = Math.max(
      1,
      Math.floor((result.session.expiresAt.getTime() - Date.now()) / 1000),
    );
    setCookie(c, cookie.name, result.token, { ...cookie.options, maxAge });
    if (xsrfInUse(config))
      setCookie(c, config.xsrf_cookie_name, xsrfTokenFor(result.token), {
        ...cookie.options,
        httpOnly: false,
        maxAge,
      });
    return c.redirect(target, 302);
  });

  return app;
}

/**
 * With SITES: /auth answers configured hosts only (any other gets a 400 and
 * nothing else), and a satellite serves only the hop, sign-out and
 * userinfo; its other pages are the home site's, where a GET is redirected.
 */
export function siteGuard(kit: AuthKit): MiddlewareHandler<AuthEnv> {
  const { config, prefix } = kit;
  const refuse = (c: Context<AuthEnv>, refusal: Refusal) => refusalAnswer(kit, c, refusal);
  return async (c, next) => {
    if (config.sites.sites.length === 0) return next();
    const site = kit.siteOf(c);
    if (!site) return refuse(c, "unknown_site");
    if (site.home || SATELLITE_PATHS.has(c.req.path.slice(prefix.length))) return next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return refuse(c, "home_only");
    const query = new URL(c.req.url).search;
    return c.redirect(`${config.public_url.origin}${c.req.path}${query}`, 302);
  };
}

/** A 400 that says which refusal: a page for a browser, the one JSON error shape (in English) for an API caller. */
function refusalAnswer(kit: AuthKit, c: Context<AuthEnv>, refusal: Refusal) {
  c.header("x-gatehouse-error", refusal);
  if (wantsJson(c))
    return c.json(
      {
        error: {
          code: refusal,
          message: ENGLISH(`sites.${refusal}`),
          requestId: c.get("requestId") ?? null,
        },
      },
      400,
    );
  c.status(400);
  const t = kit.page(c).t;
  return c.html(
    messagePage(kit.page(c), t("sites.refused_title"), t(`sites.${refusal}`), {
      href: kit.config.login_url,
      text: t("sites.back_home"),
    }),
  );
}
