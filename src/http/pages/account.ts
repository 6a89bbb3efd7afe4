// The account page: the address and its confirmation, linked sign-in
// providers, password change, active sessions, API keys, sign out. Each
// section's forms post to its own endpoint and get this page back.
import { html } from "hono/html";
import type { AuditRecord } from "../../accounts/audit.ts";
import type { ApiKeySummary } from "../../api-keys/service.ts";
import type { FactorSummary } from "../../mfa/service.ts";
import type { IdentitySummary } from "../../oauth/service.ts";
import type { SessionRecord, SessionUser } from "../../sessions/store.ts";
import { factorsSection } from "./account-factors.ts";
import { recentSecurityEvents } from "./audit-events.ts";
import { dateTime, day } from "./dates.ts";
import { type Content, errorBlock, layout, type PageContext } from "./layout.ts";
import { signInSitesSection, signInsOnly } from "./sites.ts";

export function accountPage(
  ctx: PageContext,
  options: {
    user: SessionUser;
    sessions: SessionRecord[];
    currentSessionId: string;
    apiKeys: ApiKeySummary[];
    identities: IdentitySummary[];
    factors?: FactorSummary;
    /** The passkey section (pages/passkeys.ts), when passkeys can be used here. */
    passkeys?: Content | string;
    securityEvents?: AuditRecord[];
    /** A key just created: shown this once, never again. */
    newKey?: { name: string; key: string };
    notice?: string;
    error?: string;
  },
): Content {
  const { user } = options;
  const { t } = ctx;
  const keyRows = options.apiKeys.map(
    (key) => html`<tr>
  <td>${key.name}</td>
  <td><code>${key.start}…</code></td>
  <td>${day(ctx, key.createdAt)}</td>
  <td>${key.expiresAt ? day(ctx, key.expiresAt) : t("account.noExpiry")}</td>
  <td>${key.lastUsedAt ? dateTime(ctx, key.lastUsedAt) : t("account.notUsed")}</td>
  <td><form method="post" action="${ctx.prefix}/api-keys/${key.id}/revoke"><button type="submit" class="secondary" aria-label="${t("account.revokeLabel", { name: key.name })}">${t("account.revoke")}</button></form></td>
</tr>`,
  );
  const rows = signInsOnly(options.sessions).map(
    (session) => html`<tr>
  <td>${dateTime(ctx, session.createdAt)}</td>
  <td>${session.ip ?? ""}</td>
  <td>${(session.userAgent ?? "").slice(0, 60)}</td>
  <td>${
    session.id === options.currentSessionId
      ? html`<strong>${t("account.thisBrowser")}</strong>`
      : html`<form method="post" action="${ctx.prefix}/sessions/${session.id}/revoke"><button type="submit" class="secondary" aria-label="${t("account.signOutSessionLabel")}">${t("account.signOutSession")}</button></form>`
  }</td>
</tr>`,
  );
  return layout(
    ctx,
    t("account.title"),
    html`<h1>${t("account.title")}</h1>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ""}
${errorBlock(options.error)}
<dl>
  <dt>${t("account.email")}</dt><dd>${user.email} ${user.emailVerified ? t("account.verified") : t("account.notVerified")}</dd>
  ${user.name ? html`<dt>${t("account.name")}</dt><dd>${user.name}</dd>` : ""}
  <dt>${t("account.userId")}</dt><dd><code>${user.id}</code></dd>
</dl>
${
  user.emailVerified
    ? ""
    : html`<form method="post" action="${ctx.prefix}/verify-email/resend"><button type="submit" class="secondary">${t("account.resendConfirmation")}</button></form>`
}
<h2>${t("account.providersTitle")}</h2>
${
  options.identities.length > 0
    ? html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("account.colProvider")}</th><th scope="col">${t("account.colAccount")}</th><th scope="col">${t("account.colLinked")}</th><td></td></tr></thead>
  <tbody>${options.identities.map(
    (identity) => html`<tr>
  <td>${identity.providerName}</td>
  <td>${identity.email ?? identity.name ?? ""}</td>
  <td>${day(ctx, identity.createdAt)}</td>
  <td><form method="post" action="${ctx.prefix}/identities/${identity.id}/unlink"><button type="submit" class="secondary" aria-label="${t("account.unlinkLabel", { provider: identity.providerName })}">${t("account.unlink")}</button></form></td>
</tr>`,
  )}</tbody>
</table></div>`
    : html`<p>${t("account.noProviders")}</p>`
}
${
  user.emailVerified
    ? (ctx.providers ?? [])
        .filter(
          (provider) => !options.identities.some((identity) => identity.provider === provider.id),
        )
        .map(
          (provider) =>
            html`<form method="post" action="${ctx.prefix}/oauth/${provider.id}/link"><button type="submit" class="secondary">${t("account.link", { provider: provider.displayName })}</button></form>`,
        )
    : (ctx.providers ?? []).length > 0
      ? html`<p>${t("account.confirmToLink")}</p>`
      : ""
}
<h2>${t("account.passwordTitle")}</h2>
<form method="post" action="${ctx.prefix}/password">
  <label for="current-password">${t("account.currentPassword")}</label>
  <input id="current-password" name="currentPassword" type="password" autocomplete="current-password" required>
  <label for="new-password">${t("account.newPassword")}</label>
  <input id="new-password" name="newPassword" type="password" autocomplete="new-password" required minlength="8">
  <label><input type="checkbox" name="signOutOthers" value="true" checked> ${t("account.signOutOthersOption")}</label>
  <button type="submit" class="secondary">${t("account.changePassword")}</button>
</form>
${options.factors ? factorsSection(ctx, options.factors) : ""}
${options.passkeys ?? ""}
<h2>${t("account.sessionsTitle")}</h2>
<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("account.colSignedIn")}</th><th scope="col">${t("account.colAddress")}</th><th scope="col">${t("account.colBrowser")}</th><td></td></tr></thead>
  <tbody>${rows}</tbody>
</table></div>
<form method="post" action="${ctx.prefix}/sessions/revoke-others"><button type="submit" class="secondary">${t("account.signOutOthers")}</button></form>
${signInSitesSection(ctx, options.sessions, options.currentSessionId)}
<h2>${t("account.apiKeysTitle")}</h2>
${
  options.newKey
    ? html`<div class="notice" role="status"><p>${t("account.newKey", { name: options.newKey.name })}</p><p><code id="new-api-key">${options.newKey.key}</code></p></div>`
    : ""
}
${
  options.apiKeys.length > 0
    ? html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("account.colName")}</th><th scope="col">${t("account.colKey")}</th><th scope="col">${t("account.colCreated")}</th><th scope="col">${t("account.colExpires")}</th><th scope="col">${t("account.colLastUsed")}</th><td></td></tr></thead>
  <tbody>${keyRows}</tbody>
</table></div>`
    : html`<p>${t("account.noKeys")}</p>`
}
${
  user.emailVerified
    ? html`<p>${t("account.keyRecentSignIn")}</p>
<form method="post" action="${ctx.prefix}/api-keys">
  <label for="key-name">${t("account.keyName")}</label>
  <input id="key-name" name="name" required maxlength="100" placeholder="${t("account.keyNamePlaceholder")}">
  <label for="key-expiry">${t("account.keyExpires")}</label>
  <select id="key-expiry" name="expiresInDays">
    <option value="30">${t("account.in30Days")}</option>
    <option value="90" selected>${t("account.in90Days")}</option>
    <option value="365">${t("account.inAYear")}</option>
    <option value="">${t("account.never")}</option>
  </select>
  <button type="submit" class="secondary">${t("account.createKey")}</button>
</form>`
    : html`<p>${t("account.confirmForKeys")}</p>`
}
${recentSecurityEvents(ctx, options.securityEvents)}
<form method="post" action="${ctx.prefix}/logout"><button type="submit">${t("account.signOut")}</button></form>`,
    true,
  );
}
