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
  const day = (iso: string | null) => (iso ? iso.slice(0, 10) : "never");
  const keyRows = options.apiKeys.map(
    (key) => html`<tr>
  <td>${key.name}</td>
  <td><code>${key.start}…</code></td>
  <td>${day(key.createdAt)}</td>
  <td>${key.expiresAt ? day(key.expiresAt) : "no expiry"}</td>
  <td>${key.lastUsedAt ? day(key.lastUsedAt) : "not used"}</td>
  <td><form method="post" action="${ctx.prefix}/api-keys/${key.id}/revoke"><button type="submit" class="secondary" aria-label="Revoke the key ${key.name}">Revoke</button></form></td>
</tr>`,
  );
  const rows = signInsOnly(options.sessions).map(
    (session) => html`<tr>
  <td>${session.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC</td>
  <td>${session.ip ?? ""}</td>
  <td>${(session.userAgent ?? "").slice(0, 60)}</td>
  <td>${
    session.id === options.currentSessionId
      ? html`<strong>this browser</strong>`
      : html`<form method="post" action="${ctx.prefix}/sessions/${session.id}/revoke"><button type="submit" class="secondary" aria-label="Sign out this session">Sign out</button></form>`
  }</td>
</tr>`,
  );
  return layout(
    ctx,
    "Your account",
    html`<h1>Your account</h1>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ""}
${errorBlock(options.error)}
<dl>
  <dt>Email</dt><dd>${user.email} ${user.emailVerified ? "(verified)" : "(not verified)"}</dd>
  ${user.name ? html`<dt>Name</dt><dd>${user.name}</dd>` : ""}
  <dt>User id</dt><dd><code>${user.id}</code></dd>
</dl>
${
  user.emailVerified
    ? ""
    : html`<form method="post" action="${ctx.prefix}/verify-email/resend"><button type="submit" class="secondary">Send the confirmation email again</button></form>`
}
<h2>Sign-in providers</h2>
${
  options.identities.length > 0
    ? html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">Provider</th><th scope="col">Account</th><th scope="col">Linked</th><td></td></tr></thead>
  <tbody>${options.identities.map(
    (identity) => html`<tr>
  <td>${identity.providerName}</td>
  <td>${identity.email ?? identity.name ?? ""}</td>
  <td>${identity.createdAt.slice(0, 10)}</td>
  <td><form method="post" action="${ctx.prefix}/identities/${identity.id}/unlink"><button type="submit" class="secondary" aria-label="Unlink ${identity.providerName}">Unlink</button></form></td>
</tr>`,
  )}</tbody>
</table></div>`
    : html`<p>No linked providers.</p>`
}
${
  user.emailVerified
    ? (ctx.providers ?? [])
        .filter(
          (provider) => !options.identities.some((identity) => identity.provider === provider.id),
        )
        .map(
          (provider) =>
            html`<form method="post" action="${ctx.prefix}/oauth/${provider.id}/link"><button type="submit" class="secondary">Link ${provider.displayName}</button></form>`,
        )
    : (ctx.providers ?? []).length > 0
      ? html`<p>Confirm your email address to link a sign-in provider.</p>`
      : ""
}
<h2>Password</h2>
<form method="post" action="${ctx.prefix}/password">
  <label for="current-password">Current password</label>
  <input id="current-password" name="currentPassword" type="password" autocomplete="current-password" required>
  <label for="new-password">New password</label>
  <input id="new-password" name="newPassword" type="password" autocomplete="new-password" required minlength="8">
  <label><input type="checkbox" name="signOutOthers" value="true" checked> Sign out all other sessions</label>
  <button type="submit" class="secondary">Change password</button>
</form>
${options.factors ? factorsSection(ctx, options.factors) : ""}
${options.passkeys ?? ""}
<h2>Active sessions</h2>
<div class="table-scroll"><table>
  <thead><tr><th scope="col">Signed in</th><th scope="col">Address</th><th scope="col">Browser</th><td></td></tr></thead>
  <tbody>${rows}</tbody>
</table></div>
<form method="post" action="${ctx.prefix}/sessions/revoke-others"><button type="submit" class="secondary">Sign out all other sessions</button></form>
${signInSitesSection(ctx, options.sessions, options.currentSessionId)}
<h2>API keys</h2>
${
  options.newKey
    ? html`<div class="notice" role="status"><p>Your new key “${options.newKey.name}”. Copy it now: it will not be shown again.</p><p><code id="new-api-key">${options.newKey.key}</code></p></div>`
    : ""
}
${
  options.apiKeys.length > 0
    ? html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><td></td></tr></thead>
  <tbody>${keyRows}</tbody>
</table></div>`
    : html`<p>No API keys.</p>`
}
${
  user.emailVerified
    ? html`<p>Creating or revoking a key needs a sign-in within the last 5 minutes.</p>
<form method="post" action="${ctx.prefix}/api-keys">
  <label for="key-name">Name</label>
  <input id="key-name" name="name" required maxlength="100" placeholder="deploy script">
  <label for="key-expiry">Expires</label>
  <select id="key-expiry" name="expiresInDays">
    <option value="30">in 30 days</option>
    <option value="90" selected>in 90 days</option>
    <option value="365">in a year</option>
    <option value="">never</option>
  </select>
  <button type="submit" class="secondary">Create an API key</button>
</form>`
    : html`<p>Confirm your email address to create API keys.</p>`
}
${recentSecurityEvents(ctx, options.securityEvents)}
<form method="post" action="${ctx.prefix}/logout"><button type="submit">Sign out</button></form>`,
    true,
  );
}
