// The passkey parts of the hosted pages: the account page's section (the
// user's passkeys, each renamed or removed with a plain form; adding one
// runs the ceremony through the passkey script) and the login page's
// "Sign in with a passkey" button. Only the ceremonies need JavaScript;
// everything else is a form.
import { html } from "hono/html";
import { dateTime, day } from "./dates.ts";
import type { Content, PageContext } from "./layout.ts";
import { PASSKEY_SCRIPT_PATH, PASSKEY_SCRIPT_VERSION } from "./passkey-script.ts";

export type PasskeyRow = {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
};

function scriptTag(ctx: PageContext): Content {
  return html`<script src="${ctx.prefix}${PASSKEY_SCRIPT_PATH}?v=${PASSKEY_SCRIPT_VERSION}" defer></script>`;
}

/** What the script shows when a ceremony fails or is cancelled, in the page's language. */
function messages(ctx: PageContext) {
  return html`data-msg-cancelled="${ctx.t("passkeys.cancelled")}" data-msg-failed="${ctx.t("passkeys.failed")}"`;
}

const errorBox = html`<p class="error" role="alert" tabindex="-1" data-passkey-error hidden></p>`;

export function passkeyAccountSection(
  ctx: PageContext,
  options: { passkeys: PasskeyRow[]; emailVerified: boolean },
): Content {
  const { t } = ctx;
  const rows = options.passkeys.map(
    (passkey) => html`<tr>
  <td>
    <form method="post" action="${ctx.prefix}/passkeys/${passkey.id}/rename">
      <label for="passkey-name-${passkey.id}" class="hint">${t("passkeys.name")}</label>
      <input id="passkey-name-${passkey.id}" name="name" value="${passkey.name}" required maxlength="64">
      <button type="submit" class="secondary" aria-label="${t("passkeys.renameLabel", { name: passkey.name })}">${t("passkeys.rename")}</button>
    </form>
  </td>
  <td>${day(ctx, passkey.createdAt)}</td>
  <td>${passkey.lastUsedAt ? dateTime(ctx, passkey.lastUsedAt) : t("passkeys.notUsed")}</td>
  <td>${passkey.backedUp ? t("passkeys.synced") : t("passkeys.thisDevice")}</td>
  <td><form method="post" action="${ctx.prefix}/passkeys/${passkey.id}/remove"><button type="submit" class="secondary" aria-label="${t("passkeys.removeLabel", { name: passkey.name })}">${t("passkeys.remove")}</button></form></td>
</tr>`,
  );
  return html`<section id="passkeys" aria-labelledby="passkeys-heading">
<h2 id="passkeys-heading">${t("passkeys.heading")}</h2>
<p>${t("passkeys.intro")}</p>
${
  rows.length > 0
    ? html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("passkeys.name")}</th><th scope="col">${t("passkeys.added")}</th><th scope="col">${t("passkeys.lastUsed")}</th><th scope="col">${t("passkeys.kind")}</th><th scope="col">${t("passkeys.actions")}</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`
    : html`<p>${t("passkeys.none")}</p>`
}
${
  options.emailVerified
    ? html`<p>${t("passkeys.recentSignIn")}</p>
<form method="post" action="${ctx.prefix}/passkeys/register" data-passkey="register" data-options="${ctx.prefix}/passkeys/register/options" ${messages(ctx)}>
  ${errorBox}
  <label for="passkey-new-name">${t("passkeys.newName")}</label>
  <input id="passkey-new-name" name="name" required maxlength="64" placeholder="${t("passkeys.newNamePlaceholder")}">
  <input type="hidden" name="response" value="">
  <button type="submit" class="secondary" data-passkey-button hidden>${t("passkeys.add")}</button>
  <p class="hint" data-passkey-nojs>${t("passkeys.needsScript")}</p>
</form>
${scriptTag(ctx)}`
    : html`<p>${t("passkeys.verifyFirst")}</p>`
}
</section>`;
}

/** The login page's passkey button; the email field above it offers passkeys in its autofill. */
export function passkeyLoginSection(ctx: PageContext, rd: string | undefined): Content {
  if (!ctx.passkeys) return html``;
  const action = `${ctx.prefix}/passkeys/login${rd ? `?rd=${encodeURIComponent(rd)}` : ""}`;
  return html`<form method="post" action="${action}" data-passkey="login" data-options="${ctx.prefix}/passkeys/login/options" ${messages(ctx)}>
  ${errorBox}
  <input type="hidden" name="response" value="">
  <button type="submit" class="secondary" data-passkey-button hidden>${ctx.t("passkeys.signIn")}</button>
</form>
${scriptTag(ctx)}`;
}

/**
 * The step-up page's passkey section (a second factor after a password, or
 * a proof again for a rule): one button that runs the ceremony against the
 * account's own passkeys and posts the answer. Without the script it says so.
 */
export function passkeyStepUpSection(
  ctx: PageContext,
  options: { rd?: string | undefined; autofocus: boolean },
): Content {
  if (!ctx.passkeys) return html``;
  const { rd } = options;
  const action = `${ctx.prefix}/mfa/passkey/verify${rd ? `?rd=${encodeURIComponent(rd)}` : ""}`;
  return html`<section aria-labelledby="passkey-title">
<h2 id="passkey-title">${ctx.t("mfa.passkeyTitle")}</h2>
<form method="post" action="${action}" data-passkey="step-up" data-options="${ctx.prefix}/mfa/passkey/options" ${messages(ctx)}>
  ${errorBox}
  <input type="hidden" name="response" value="">
  <button type="submit" data-passkey-button hidden${options.autofocus ? html` autofocus` : ""}>${ctx.t("mfa.usePasskey")}</button>
  <p class="hint" data-passkey-nojs>${ctx.t("passkeys.needsScript")}</p>
</form>
${scriptTag(ctx)}
</section>`;
}

/**
 * The invitation page's passkey form: the account is created with a passkey
 * instead of a password (the ceremony's options are the invitation's own).
 */
export function passkeyInvitationSection(
  ctx: PageContext,
  options: { token: string; name?: string | undefined },
): Content {
  if (!ctx.passkeys) return html``;
  const { t } = ctx;
  const optionsUrl = `${ctx.prefix}/invitation/passkey/options?token=${encodeURIComponent(options.token)}`;
  return html`<section aria-labelledby="invite-passkey-title">
<h2 id="invite-passkey-title">${t("invitations.accept.passkeyTitle")}</h2>
<p>${t("invitations.accept.passkeyIntro")}</p>
<form method="post" action="${ctx.prefix}/invitation/passkey" data-passkey="register" data-options="${optionsUrl}" ${messages(ctx)}>
  ${errorBox}
  <input type="hidden" name="token" value="${options.token}">
  <input type="hidden" name="response" value="">
  <label for="invite-passkey-person">${t("invitations.accept.name")}</label>
  <input id="invite-passkey-person" name="name" autocomplete="name" maxlength="100" value="${options.name ?? ""}">
  <label for="invite-passkey-name">${t("passkeys.newName")}</label>
  <input id="invite-passkey-name" name="passkeyName" required maxlength="64" value="${t("invitations.accept.passkeyDefaultName")}">
  <button type="submit" data-passkey-button hidden>${t("invitations.accept.passkeyButton")}</button>
  <p class="hint" data-passkey-nojs>${t("passkeys.needsScript")}</p>
</form>
${scriptTag(ctx)}
</section>`;
}
