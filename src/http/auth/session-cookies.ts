// The session cookie and the XSRF cookie that goes with it: set when a
// session starts, kept for a session from before XSRF_PROTECTION, checked on
// gatehouse's own unsafe requests, and cleared on sign-out, each on the site
// the request is on.
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { CookieOptions } from "hono/utils/cookie";
import type { SignedIn } from "../../accounts/service.ts";
import { type Config, xsrfInUse } from "../../config.ts";
import { ServiceError } from "../../errors.ts";
import { hashToken } from "../../kernel/tokens.ts";
import { sameToken, xsrfTokenFor } from "../../sessions/xsrf.ts";
import { cookieValues } from "../context.ts";
import type { AuthEnv } from "./kit.ts";
import type { SiteHelpers } from "./site-cookie.ts";

export type SessionCookies = {
  /** Sets the session cookie, and the session's XSRF cookie when some rule checks XSRF. */
  startSession<E extends AuthEnv>(c: Context<E>, signedIn: Pick<SignedIn, "token">): void;
  /**
   * Sets the XSRF cookie of the browser's live session (a session from
   * before XSRF_PROTECTION was switched on has none yet); nothing when no
   * rule checks XSRF.
   */
  keepXsrfCookie<E extends AuthEnv>(c: Context<E>, sessionId: string): void;
  /**
   * When some rule checks XSRF: throws 403 `xsrf` unless the request's XSRF
   * header equals its XSRF cookie and is this session's token (as the
   * resolver checks the application's unsafe requests).
   */
  checkXsrf<E extends AuthEnv>(c: Context<E>, sessionId: string): void;
  /** Clears the session cookie and the XSRF cookie (of the site the request is on). */
  endSession<E extends AuthEnv>(c: Context<E>): void;
};

export function sessionCookies(
  config: Config,
  cookieOptions: CookieOptions,
  sites: Pick<SiteHelpers, "siteCookie">,
): SessionCookies {
  const xsrf = xsrfInUse(config);
  // The XSRF cookie has the session cookie's scope (this site's), but scripts must read it.
  const setXsrfCookie = (c: Context, sessionToken: string) =>
    setCookie(c, config.xsrf_cookie_name, xsrfTokenFor(sessionToken), {
      ...sites.siteCookie(c).options,
      httpOnly: false,
      maxAge: config.session_max_age,
    });
  /** The session cookie's value whose hash is this session: the browser may send several. */
  const sessionToken = (c: Context, sessionId: string) =>
    cookieValues(c.req.header("cookie"), sites.siteCookie(c).name).find(
      (value) => hashToken(value) === sessionId,
    );
  return {
    startSession(c, signedIn) {
      setCookie(c, config.session_cookie, signedIn.token, {
        ...cookieOptions,
        maxAge: config.session_max_age,
      });
      if (xsrf) setXsrfCookie(c, signedIn.token);
    },
    keepXsrfCookie(c, sessionId) {
      if (!xsrf) return;
      const token = sessionToken(c, sessionId);
      if (token) setXsrfCookie(c, token);
    },
    checkXsrf(c, sessionId) {
      if (!xsrf) return;
      const header = c.req.header(config.xsrf_header_name);
      const token = sessionToken(c, sessionId);
      const problem = !header
        ? "the XSRF header is missing: send the XSRF-TOKEN cookie's value in it"
        : !cookieValues(c.req.header("cookie"), config.xsrf_cookie_name).some((value) =>
              sameToken(value, header),
            )
          ? "the XSRF header does not match the XSRF cookie"
          : !token || !sameToken(header, xsrfTokenFor(token))
            ? "the XSRF token does not belong to this session: reload the page to get a new one"
            : null;
      if (problem) throw new ServiceError("xsrf", problem);
    },
    endSession(c) {
      const own = sites.siteCookie(c);
      deleteCookie(c, own.name, own.options);
      if (xsrf) deleteCookie(c, config.xsrf_cookie_name, { ...own.options, httpOnly: false });
    },
  };
}
