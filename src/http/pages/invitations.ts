// Invitation pages: the admin console's list with the form that invites an
// address, the confirmation of resend and revoke, and the invitee's page
// (the mailed link) that creates the account with a password or a provider.
import { html } from "hono/html";
import type { InvitationSummary } from "../../accounts/invitations.ts";
import { adminNav } from "./admin.ts";
import { day } from "./dates.ts";
import { type Content, errorBlock, fieldAria, layout, type PageContext } from "./layout.ts";
import { passkeyInvitationSection } from "./passkeys.ts";

export function adminInvitationsPage(
  ctx: PageContext,
  options: {
    invitations: InvitationSummary[];
    notice?: string;
    error?: string;
    fields?: { email?: string; roles?: string };
    open: boolean;
  },
): Content {
  const { t } = ctx;
  const rows = options.invitations.map(
    (one) => html`<tr>
  <td>${one.email}</td>
  <td>${one.roles.join(", ")}</td>
  <td>${t(`invitations.status.${one.status}`)}</td>
  <td>${day(ctx, one.createdAt)}</td>
  <td>${day(ctx, one.expiresAt)}</td>
  <td>${
    one.status === "pending" || one.status === "expired"
      ? html`<form method="post" action="${ctx.prefix}/admin/invitations/${one.id}/resend"><button type="submit" class="secondary">${t("invitations.action.resend")}</button></form>`
      : ""
  }${
    one.status === "pending"
      ? html`<form method="post" action="${ctx.prefix}/admin/invitations/${one.id}/revoke"><button type="submit" class="secondary">${t("invitations.action.revoke")}</button></form>`
      : ""
  }</td>
</tr>`,
  );
  return layout(
    ctx,
    t("invitations.title"),
    html`${adminNav(ctx)}<h1>${t("invitations.title")}</h1>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ""}
${errorBlock(options.error)}
${
  options.open
    ? html`<form method="post" action="${ctx.prefix}/admin/invitations">
  <label for="invite-email">${t("invitations.email")}</label>
  <input id="invite-email" name="email" type="email" required maxlength="254" value="${options.fields?.email ?? ""}">
  <label for="invite-roles">${t("invitations.roles")}</label>
  <input id="invite-roles" name="roles" maxlength="2000" value="${options.fields?.roles ?? ""}">
  <label for="invite-days">${t("invitations.expiresInDays")}</label>
  <input id="invite-days" name="expiresInDays" type="number" min="1" max="90" placeholder="7">
  <button type="submit">${t("invitations.action.invite")}</button>
</form>`
    : html`<p>${t("invitations.closed")}</p>`
}
${
  options.invitations.length === 0
    ? html`<p>${t("invitations.none")}</p>`
    : html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("invitations.col.email")}</th><th scope="col">${t("invitations.col.roles")}</th><th scope="col">${t("invitations.col.status")}</th><th scope="col">${t("invitations.col.sent")}</th><th scope="col">${t("invitations.col.expires")}</th><td></td></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`
}`,
    true,
  );
}

export function invitationConfirmPage(
  ctx: PageContext,
  options: { action: "resend" | "revoke"; id: string; email: string },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("invitations.confirm.title"),
    html`<h1>${t("invitations.confirm.title")}</h1>
<p>${t(`invitations.confirm.${options.action}`, { email: options.email })}</p>
<form method="post" action="${ctx.prefix}/admin/invitations/${options.id}/${options.action}">
<input type="hidden" name="confirm" value="yes">
<button type="submit">${t(`invitations.action.${options.action}`)}</button>
</form>
<p><a href="${ctx.prefix}/admin/invitations">${t("invitations.confirm.cancel")}</a></p>`,
  );
}

/** The invitee's page: the invited address, a password form, and the providers. */
export function acceptInvitationPage(
  ctx: PageContext,
  options: {
    token: string;
    email: string;
    name?: string;
    error?: string;
    errorField?: string | undefined;
  },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("invitations.accept.title"),
    html`<h1>${t("invitations.accept.title")}</h1>
${errorBlock(options.error)}
<p>${t("invitations.accept.intro", { email: options.email })}</p>
<form method="post" action="${ctx.prefix}/invitation">
  <input type="hidden" name="token" value="${options.token}">
  <label for="name">${t("invitations.accept.name")}</label>
  <input id="name" name="name" autocomplete="name" maxlength="100" value="${options.name ?? ""}"${fieldAria(options.errorField === "name")}>
  <label for="password">${t("invitations.accept.password")}</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"${fieldAria(options.errorField === "password")}>
  <button type="submit">${t("invitations.accept.button")}</button>
</form>
${passkeyInvitationSection(ctx, { token: options.token, name: options.name })}
${
  ctx.providers?.length
    ? html`<p>${t("invitations.accept.providers", { email: options.email })}</p>
<div class="providers">${ctx.providers.map(
        (provider) =>
          html`<a class="provider" href="${ctx.prefix}/oauth/${provider.id}">${provider.displayName}</a>`,
      )}</div>`
    : ""
}`,
  );
}
