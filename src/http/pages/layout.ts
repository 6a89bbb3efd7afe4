// The hosted pages' frame: server-rendered HTML that works without
// JavaScript. Every value is escaped by the html template tag (and by
// Mustache in the frame's templates). Themeable through the brand
// (branding/): colours, logo, an extra stylesheet, the frame's templates.
// Nothing inline but the brand's one stylesheet, which the CSP allows by its
// hash: no scripts, no style attributes.
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { Brand } from "../../branding/brands.ts";
import type { Translate } from "../../i18n/catalogue.ts";
import { LOCAL_TIME_SCRIPT_PATH, LOCAL_TIME_SCRIPT_VERSION } from "./local-time-script.ts";
import { localeSelector } from "./locale-selector.ts";

export type Content = HtmlEscapedString | Promise<HtmlEscapedString>;

export type PageContext = {
  siteName: string;
  /** The page's language (a BCP 47 tag) and its messages: `t("area.key", { name })`. */
  locale: string;
  t: Translate;
  prefix: string;
  /** Sign-in providers, a button each on the login page. */
  providers?: { id: string; displayName: string }[];
  /** Passkeys can be used here: the login page offers them. */
  passkeys?: boolean;
  /** The look of the site the request is on (its name is siteName). */
  brand: Brand;
  /** The language selector's choices, and the page it returns to (locale-selector.ts). */
  languages?: { choices: { locale: string; name: string }[]; returnTo: string };
};

/**
 * The frame around every page: the brand's templates (branding/templates.ts)
 * with its stylesheet inline (the CSP allows it by its hash, per brand:
 * guards.ts) and its logo, favicon and extra stylesheet linked.
 */
export async function layout(
  ctx: PageContext,
  title: string,
  body: Content,
  wide = false,
): Promise<HtmlEscapedString> {
  const { brand } = ctx;
  const links = brand.links();
  return raw(
    brand.templates.render({
      locale: ctx.locale,
      title,
      siteName: ctx.siteName,
      prefix: ctx.prefix,
      logo: links.logo,
      favicon: links.favicon,
      stylesheet: links.stylesheet,
      colorScheme: brand.colorScheme,
      wide,
      style: brand.style,
      body: withLocalTime(ctx, String(await body)),
      languages: String(await localeSelector(ctx)),
    }),
  );
}

/** A page that shows times loads the script that shows them in the visitor's zone. */
function withLocalTime(ctx: PageContext, body: string): string {
  if (!body.includes(" data-local>")) return body;
  return `${body}\n<script src="${ctx.prefix}${LOCAL_TIME_SCRIPT_PATH}?v=${LOCAL_TIME_SCRIPT_VERSION}" defer></script>`;
}

export function errorBlock(message: string | undefined): Content | string {
  return message ? html`<p class="error" role="alert" id="form-error">${message}</p>` : "";
}

/**
 * The attributes of a field the form's error is about: described by the
 * error (and its own hints), marked invalid, and focused, so a screen reader
 * announces what is wrong where the user is.
 */
export function fieldAria(invalid: boolean, ...hints: string[]): Content {
  const ids = invalid ? ["form-error", ...hints] : hints;
  return html`${ids.length > 0 ? html` aria-describedby="${ids.join(" ")}"` : ""}${invalid ? raw(' aria-invalid="true" autofocus') : ""}`;
}

export function withRd(path: string, rd: string | undefined): string {
  return rd ? `${path}?rd=${encodeURIComponent(rd)}` : path;
}
