// The sign-out page (GET /logout): signing out changes state, so it is a
// button posting to /logout, same-origin like every other form here (the
// cross-site refusal in guards.ts lets it through), with the return target.
import { html } from "hono/html";
import { type Content, layout, type PageContext, withRd } from "./layout.ts";

export function logoutPage(ctx: PageContext, options: { rd?: string | undefined }): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("logout.title"),
    html`<h1>${t("logout.title")}</h1>
<p>${t("logout.intro")}</p>
<form method="post" action="${withRd(`${ctx.prefix}/logout`, options.rd)}">
  <button type="submit" id="logout-button">${t("logout.button")}</button>
</form>
<p class="muted"><a href="${ctx.prefix}/account">${t("logout.account")}</a></p>`,
  );
}
