// The hosted pages' frame: server-rendered HTML that works without
// JavaScript. Every value is escaped by the html template tag. Themeable
// through CSS custom properties (override them in a stylesheet served by the
// proxy from the same origin). Nothing inline but the one stylesheet below,
// which the CSP allows by its hash: no scripts, no style attributes.
import { createHash } from "node:crypto";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { Translate } from "../../i18n/catalogue.ts";
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
  languages?: { choices: { locale: string; name: string }[]; returnTo: string }; // locale-selector.ts
};

const STYLE = `
:root { --gh-bg: #f5f6f8; --gh-card: #fff; --gh-text: #1d2330; --gh-muted: #5b6475; --gh-accent: #2b59c3;
  --gh-accent-text: #fff; --gh-error: #a4262c; --gh-border: #d5d9e0; --gh-radius: 8px;
  --gh-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--gh-bg); color: var(--gh-text); font: 16px/1.5 var(--gh-font); }
main { max-width: 26rem; margin: 8vh auto; padding: 2rem; background: var(--gh-card);
  border: 1px solid var(--gh-border); border-radius: var(--gh-radius); }
main.wide { max-width: 44rem; }
h1 { font-size: 1.4rem; margin: 0 0 1.25rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; padding: .6rem .7rem; font: inherit; border: 1px solid var(--gh-border); border-radius: 6px; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--gh-accent); outline-offset: 2px; }
button { margin-top: 1.25rem; width: 100%; padding: .65rem; font: inherit; font-weight: 600; cursor: pointer;
  color: var(--gh-accent-text); background: var(--gh-accent); border: 0; border-radius: 6px; }
button.secondary { background: transparent; color: var(--gh-accent); border: 1px solid var(--gh-accent); }
table button { width: auto; margin: 0; padding: .3rem .7rem; }
.error { color: var(--gh-error); border-left: 4px solid var(--gh-error); padding: .5rem .75rem; background: #fdf3f4; }
.notice { border-left: 4px solid var(--gh-accent); padding: .5rem .75rem; background: #f1f5fd; }
.muted, .hint { color: var(--gh-muted); font-size: .9rem; }
.providers { margin-top: 1rem; display: grid; gap: .5rem; }
a.provider { display: block; text-align: center; padding: .6rem; border: 1px solid var(--gh-border); border-radius: 6px;
  color: var(--gh-text); text-decoration: none; font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid var(--gh-border); }
input[type="checkbox"] { width: auto; }
.locale-selector form { display: flex; gap: .5rem; align-items: center; justify-content: center; margin: 1rem; } .locale-selector label, .locale-selector button { margin: 0; width: auto; }
`;

/** The CSP source that allows the inline stylesheet, and nothing else inline. */
export const STYLE_HASH_SOURCE = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

export function layout(ctx: PageContext, title: string, body: Content, wide = false): Content {
  return html`<!doctype html>
<html lang="${ctx.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · ${ctx.siteName}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<main${wide ? html` class="wide"` : ""}>
${body}
</main>
${localeSelector(ctx)}
</body>
</html>`;
}

export function errorBlock(message: string | undefined): Content | string {
  return message ? html`<p class="error" role="alert" id="form-error">${message}</p>` : "";
}

export function withRd(path: string, rd: string | undefined): string {
  return rd ? `${path}?rd=${encodeURIComponent(rd)}` : path;
}
