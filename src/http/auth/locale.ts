// The language selector's endpoint: POST {prefix}/locale remembers the
// visitor's choice in the locale cookie (a year; the session cookie's scope),
// stores it with a signed-in user's account (their mail's language), and
// sends the browser back to the page it came from. That page is only ever a
// path under the prefix: the selector can never redirect anywhere else.
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { ServiceError } from "../../errors.ts";
import { LOCALE_COOKIE } from "../../i18n/negotiate.ts";
import { messagePage } from "../pages/message.ts";
import { readBody } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";

const YEAR_SECONDS = 365 * 86_400;
const SOME_ORIGIN = "http://return.invalid";

/**
 * `value` as a path under `prefix` (with its query), normalised; undefined
 * for anything else: other paths, absolute or scheme-relative URLs,
 * backslashes, encoded slashes, control characters.
 */
export function returnPathUnder(prefix: string, value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 2000) return undefined;
  if (!value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f\s]/.test(value)) return undefined;
  const path = value.split(/[?#]/, 1)[0] ?? "";
  if (/%(2f|5c|00)/i.test(path)) return undefined;
  let url: URL;
  try {
    url = new URL(value, SOME_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== SOME_ORIGIN) return undefined;
  if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return undefined;
  return `${url.pathname}${url.search}`;
}

export function localeRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { languages, prefix } = kit;
  const app = new Hono<AuthEnv>();

  app.post(
    "/locale",
    readBody,
    // The choice is kept for the browser even when the account cannot be reached.
    session.signedIn({ whenUnavailable: "anonymous" }),
    async (c) => {
      const fields = c.get("fields") ?? {};
      const asked = typeof fields.locale === "string" ? fields.locale.trim().toLowerCase() : "";
      const locale = [...languages.available].find((tag) => tag.toLowerCase() === asked);
      if (!locale) {
        if (!c.get("form"))
          throw new ServiceError(
            "invalid_request",
            `No such language here: locale must be one of ${[...languages.available].join(", ")}.`,
          );
        const page = kit.page(c);
        return c.html(
          messagePage(page, page.t("common.language"), page.t("common.unknownLanguage"), {
            href: returnPathUnder(prefix, fields.return) ?? `${prefix}/login`,
            text: page.t("common.continue"),
          }),
          400,
        );
      }
      const { name: _sessionCookie, options } = kit.siteCookie(c);
      setCookie(c, LOCALE_COOKIE, locale, { ...options, maxAge: YEAR_SECONDS });
      const user = c.get("signedIn")?.user;
      if (user) {
        try {
          await kit.userLocales.set(user.id, locale);
        } catch (error) {
          kit.logError(error, "storing the user's language");
        }
      }
      if (!c.get("form")) return c.json({ locale });
      return c.redirect(returnPathUnder(prefix, fields.return) ?? `${prefix}/login`, 303);
    },
  );

  return app;
}
