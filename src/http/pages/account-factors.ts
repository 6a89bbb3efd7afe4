// The account page's section on second factors: what is set up, with a way
// to add or remove each, and fresh recovery codes.
import { html } from "hono/html";
import type { FactorSummary } from "../../mfa/service.ts";
import { dayText } from "./dates.ts";
import type { Content, PageContext } from "./layout.ts";

export function factorsSection(ctx: PageContext, factors: FactorSummary): Content {
  // Passkeys list their authenticators in this section too, with add and remove.
  return html`<h2 id="second-factors">${ctx.t("mfa.sectionTitle")}</h2>
<p class="hint">${ctx.t("mfa.changeHint")}</p>
<h3>${ctx.t("mfa.totpTitle")}</h3>
${
  factors.totp
    ? html`<p>${ctx.t("mfa.totpOn", { since: dayText(ctx, factors.totp.since) })}</p>
<form method="post" action="${ctx.prefix}/mfa/totp/remove"><button type="submit" class="secondary">${ctx.t("mfa.remove")}</button></form>`
    : html`<p>${ctx.t("mfa.totpOff")}</p>
<p><a href="${ctx.prefix}/mfa/setup">${ctx.t("mfa.setUpNow")}</a></p>`
}
${
  factors.enrolled
    ? html`<h3>${ctx.t("mfa.recoveryTitle")}</h3>
<p>${ctx.t("mfa.codesLeft", { count: factors.recoveryCodesLeft })}</p>
<form method="post" action="${ctx.prefix}/mfa/recovery-codes"><button type="submit" class="secondary">${ctx.t("mfa.regenerate")}</button></form>`
    : ""
}`;
}
