// The language selector at the foot of every page: a form that posts the
// choice to {prefix}/locale, which remembers it in a cookie and sends the
// browser back to this page. Works without JavaScript; each language is
// named in itself, so a visitor who cannot read the page still finds theirs.
import { html } from "hono/html";
import type { Content, PageContext } from "./layout.ts";

export function localeSelector(ctx: PageContext): Content | string {
  const languages = ctx.languages;
  if (!languages || languages.choices.length < 2) return "";
  return html`<footer class="locale-selector">
<form method="post" action="${ctx.prefix}/locale">
  <input type="hidden" name="return" value="${languages.returnTo}">
  <label for="gatehouse-locale">${ctx.t("common.language")}</label>
  <select id="gatehouse-locale" name="locale">${languages.choices.map(
    (choice) =>
      html`<option value="${choice.locale}" lang="${choice.locale}"${choice.locale === ctx.locale ? html` selected` : ""}>${choice.name}</option>`,
  )}</select>
  <button type="submit" class="secondary">${ctx.t("common.changeLanguage")}</button>
</form>
</footer>`;
}
