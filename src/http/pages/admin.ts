// The admin console's pages: the user list with its search form, one user's
// page with the actions, the confirmation every action asks for (a form, so
// it works without JavaScript), and the audit trail. Every string comes from
// the `admin` catalogue; every value is escaped by the html tag.
import { html } from "hono/html";
import type { AuditRecord } from "../../accounts/audit.ts";
import type { UserRow } from "../../accounts/directory.ts";
import type { ApiKeySummary } from "../../api-keys/service.ts";
import type { FactorOverview } from "../../mfa/service.ts";
import type { SessionRecord } from "../../sessions/store.ts";
import { auditTable, eventKind } from "./audit-events.ts";
import { dateTime, day, dayText } from "./dates.ts";
import { type Content, errorBlock, layout, type PageContext } from "./layout.ts";

/** A day or a moment in the page's language (dates.ts); nothing for none. */
const onDay = (ctx: PageContext, iso: string | null | undefined) => (iso ? day(ctx, iso) : "");

export function adminNav(ctx: PageContext): Content {
  const t = ctx.t;
  return html`<nav aria-label="${t("admin.nav.label")}"><p><a href="${ctx.prefix}/admin/users">${t("admin.nav.users")}</a> · <a href="${ctx.prefix}/admin/invitations">${t("admin.nav.invitations")}</a> · <a href="${ctx.prefix}/admin/audit">${t("admin.nav.audit")}</a> · <a href="${ctx.prefix}/account">${t("admin.nav.account")}</a></p></nav>`;
}

const option = (value: string, label: string, selected: string | undefined) =>
  html`<option value="${value}"${value === (selected ?? "") ? html` selected` : ""}>${label}</option>`;

export type UserListFilters = {
  q?: string;
  verified?: string;
  disabled?: string;
  role?: string;
  provider?: string;
  sort?: string;
};

export function adminUsersPage(
  ctx: PageContext,
  options: { users: UserRow[]; filters: UserListFilters; nextHref: string | null },
): Content {
  const { t } = ctx;
  const f = options.filters;
  const rows = options.users.map(
    (user) => html`<tr>
  <td><a href="${ctx.prefix}/admin/users/${encodeURIComponent(user.id)}">${user.email}</a></td>
  <td>${user.name}</td>
  <td>${user.roles.join(", ")}</td>
  <td>${user.emailVerified ? t("admin.yes") : t("admin.no")}</td>
  <td>${user.disabled ? t("admin.status.disabled") : t("admin.status.active")}</td>
  <td>${onDay(ctx, user.createdAt)}</td>
</tr>`,
  );
  return layout(
    ctx,
    t("admin.users.title"),
    html`${adminNav(ctx)}<h1>${t("admin.users.title")}</h1>
<form method="get" action="${ctx.prefix}/admin/users" role="search">
  <label for="q">${t("admin.users.search")}</label>
  <input id="q" name="q" value="${f.q ?? ""}" maxlength="254" placeholder="${t("admin.users.searchHint")}">
  <label for="verified">${t("admin.users.verified")}</label>
  <select id="verified" name="verified">${option("", t("admin.any"), f.verified)}${option("yes", t("admin.yes"), f.verified)}${option("no", t("admin.no"), f.verified)}</select>
  <label for="disabled">${t("admin.users.status")}</label>
  <select id="disabled" name="disabled">${option("", t("admin.any"), f.disabled)}${option("no", t("admin.status.active"), f.disabled)}${option("yes", t("admin.status.disabled"), f.disabled)}</select>
  <label for="role">${t("admin.users.role")}</label>
  <input id="role" name="role" value="${f.role ?? ""}" maxlength="64">
  <label for="provider">${t("admin.users.provider")}</label>
  <select id="provider" name="provider">${option("", t("admin.any"), f.provider)}${(ctx.providers ?? []).map((provider) => option(provider.id, provider.displayName, f.provider))}</select>
  <label for="sort">${t("admin.users.sort")}</label>
  <select id="sort" name="sort">${option("created", t("admin.users.sortCreated"), f.sort)}${option("email", t("admin.users.sortEmail"), f.sort)}</select>
  <button type="submit" class="secondary">${t("admin.users.searchButton")}</button>
</form>
${
  options.users.length === 0
    ? html`<p>${t("admin.users.none")}</p>`
    : html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("admin.col.email")}</th><th scope="col">${t("admin.col.name")}</th><th scope="col">${t("admin.col.roles")}</th><th scope="col">${t("admin.col.verified")}</th><th scope="col">${t("admin.col.status")}</th><th scope="col">${t("admin.col.created")}</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`
}
${options.nextHref ? html`<p><a href="${options.nextHref}" rel="next">${t("admin.nextPage")}</a></p>` : ""}`,
    true,
  );
}

export type AdminUserView = {
  user: UserRow;
  password: { updatedAt: string } | null;
  identities: {
    provider: string;
    email: string | null;
    emailVerified: boolean;
    createdAt: string;
    lastLoginAt: string | null;
  }[];
  sessions: SessionRecord[];
  apiKeys: ApiKeySummary[];
  factors: FactorOverview;
  events: AuditRecord[];
};

/** One factor's remove button: it posts the factor's id and gets the confirmation page. */
const removeFactorButton = (ctx: PageContext, userId: string, factor: string, label: string) =>
  html`<form method="post" action="${ctx.prefix}/admin/users/${encodeURIComponent(userId)}/remove-factor"><input type="hidden" name="factor" value="${factor}"><button type="submit" class="secondary" aria-label="${label}">${ctx.t("admin.factors.remove")}</button></form>`;

/** The user's second factors, each with its remove button. */
function factorsTable(ctx: PageContext, userId: string, factors: FactorOverview): Content {
  const { t } = ctx;
  const rows: Content[] = [];
  if (factors.totp)
    rows.push(
      html`<tr><td>${t("admin.factors.totp")}</td><td>${day(ctx, factors.totp.since)}</td><td></td><td>${removeFactorButton(ctx, userId, "totp", t("admin.factors.removeNamed", { name: t("admin.factors.totp") }))}</td></tr>`,
    );
  for (const passkey of factors.passkeys)
    rows.push(
      html`<tr><td>${t("admin.factors.passkeyNamed", { name: passkey.name })}</td><td>${day(ctx, passkey.createdAt)}</td><td>${passkey.lastUsedAt ? day(ctx, passkey.lastUsedAt) : ""}</td><td>${removeFactorButton(ctx, userId, `passkey:${passkey.id}`, t("admin.factors.removeNamed", { name: t("admin.factors.passkeyNamed", { name: passkey.name }) }))}</td></tr>`,
    );
  if (factors.recoveryCodesLeft > 0)
    rows.push(
      html`<tr><td>${t("admin.factors.codesLeft", { count: factors.recoveryCodesLeft })}</td><td></td><td></td><td>${removeFactorButton(ctx, userId, "recovery-codes", t("admin.factors.removeNamed", { name: t("admin.factors.recoveryCodes") }))}</td></tr>`,
    );
  if (rows.length === 0) return html`<p>${t("admin.factors.none")}</p>`;
  return html`<table><thead><tr><th scope="col">${t("admin.factors.factor")}</th><th scope="col">${t("admin.col.created")}</th><th scope="col">${t("admin.col.lastUsed")}</th><th scope="col">${t("admin.factors.actions")}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** An action's button: it posts without `confirm`, and gets the confirmation page. */
const actionButton = (ctx: PageContext, userId: string, action: string, label: string) =>
  html`<form method="post" action="${ctx.prefix}/admin/users/${encodeURIComponent(userId)}/${action}"><button type="submit" class="secondary">${label}</button></form>`;

export function adminUserPage(
  ctx: PageContext,
  view: AdminUserView,
  extra: { notice?: string; error?: string } = {},
): Content {
  const { t } = ctx;
  const { user } = view;
  const providerName = (id: string) =>
    ctx.providers?.find((provider) => provider.id === id)?.displayName ?? id;
  return layout(
    ctx,
    user.email,
    html`${adminNav(ctx)}<h1>${user.email}</h1>
${extra.notice ? html`<p class="notice" role="status">${extra.notice}</p>` : ""}
${errorBlock(extra.error)}
<dl>
  <dt>${t("admin.col.id")}</dt><dd><code>${user.id}</code></dd>
  <dt>${t("admin.col.name")}</dt><dd>${user.name}</dd>
  <dt>${t("admin.col.verified")}</dt><dd>${user.emailVerified ? t("admin.yes") : t("admin.no")}</dd>
  <dt>${t("admin.col.status")}</dt><dd>${user.disabled ? t("admin.status.disabled") : t("admin.status.active")}</dd>
  <dt>${t("admin.col.roles")}</dt><dd>${user.roles.join(", ") || t("admin.none")}</dd>
  <dt>${t("admin.col.created")}</dt><dd>${onDay(ctx, user.createdAt)}</dd>
  <dt>${t("admin.col.password")}</dt><dd>${view.password ? t("admin.password.set", { date: dayText(ctx, view.password.updatedAt) }) : t("admin.password.none")}</dd>
</dl>
<h2>${t("admin.user.roles")}</h2>
<form method="post" action="${ctx.prefix}/admin/users/${encodeURIComponent(user.id)}/roles">
  <label for="roles">${t("admin.user.rolesHint")}</label>
  <input id="roles" name="roles" value="${user.roles.join(", ")}" maxlength="2000">
  <button type="submit" class="secondary">${t("admin.action.roles")}</button>
</form>
<h2>${t("admin.user.actions")}</h2>
${user.disabled ? actionButton(ctx, user.id, "enable", t("admin.action.enable")) : actionButton(ctx, user.id, "disable", t("admin.action.disable"))}
${actionButton(ctx, user.id, "sign-out", t("admin.action.sign-out"))}
${user.emailVerified ? "" : actionButton(ctx, user.id, "resend-verification", t("admin.action.resend-verification"))}
${actionButton(ctx, user.id, "send-password-reset", t("admin.action.send-password-reset"))}
${actionButton(ctx, user.id, "delete", t("admin.action.delete"))}
<h2>${t("admin.user.providers")}</h2>
${
  view.identities.length === 0
    ? html`<p>${t("admin.none")}</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">${t("admin.col.provider")}</th><th scope="col">${t("admin.col.email")}</th><th scope="col">${t("admin.col.verified")}</th><th scope="col">${t("admin.col.linked")}</th><th scope="col">${t("admin.col.lastLogin")}</th></tr></thead><tbody>${view.identities.map(
        (identity) =>
          html`<tr><td>${providerName(identity.provider)}</td><td>${identity.email ?? ""}</td><td>${identity.emailVerified ? t("admin.yes") : t("admin.no")}</td><td>${onDay(ctx, identity.createdAt)}</td><td>${onDay(ctx, identity.lastLoginAt)}</td></tr>`,
      )}</tbody></table></div>`
}
<h2>${t("admin.user.sessions")}</h2>
${
  view.sessions.length === 0
    ? html`<p>${t("admin.none")}</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">${t("admin.col.signedIn")}</th><th scope="col">${t("admin.col.method")}</th><th scope="col">${t("admin.col.address")}</th><th scope="col">${t("admin.col.device")}</th><th scope="col">${t("admin.col.lastSeen")}</th><th scope="col">${t("admin.col.activeUntil")}</th></tr></thead><tbody>${view.sessions.map(
        (session) =>
          html`<tr><td>${dateTime(ctx, session.createdAt)}</td><td>${session.method}</td><td>${session.ip ?? ""}</td><td>${(session.userAgent ?? "").slice(0, 80)}</td><td>${dateTime(ctx, session.lastSeenAt ?? session.createdAt)}</td><td>${dateTime(ctx, session.idleExpiresAt)}</td></tr>`,
      )}</tbody></table></div>`
}
<h2>${t("admin.user.apiKeys")}</h2>
${
  view.apiKeys.length === 0
    ? html`<p>${t("admin.none")}</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">${t("admin.col.name")}</th><th scope="col">${t("admin.col.key")}</th><th scope="col">${t("admin.col.created")}</th><th scope="col">${t("admin.col.expires")}</th><th scope="col">${t("admin.col.lastUsed")}</th></tr></thead><tbody>${view.apiKeys.map(
        (key) =>
          html`<tr><td>${key.name}</td><td><code>${key.start}…</code></td><td>${onDay(ctx, key.createdAt)}</td><td>${onDay(ctx, key.expiresAt)}</td><td>${onDay(ctx, key.lastUsedAt)}</td></tr>`,
      )}</tbody></table></div>`
}
<h2>${t("admin.user.factors")}</h2>
${factorsTable(ctx, user.id, view.factors)}
<h2>${t("admin.user.events")}</h2>
${auditTable(ctx, view.events, { admin: true })}
<p><a href="${ctx.prefix}/admin/audit?user=${encodeURIComponent(user.id)}">${t("admin.user.allEvents")}</a></p>`,
    true,
  );
}

/** The confirmation an action asks for: the same post again, with confirm=yes. */
export function adminConfirmPage(
  ctx: PageContext,
  options: {
    action: string;
    email: string;
    userId: string;
    /** Posted again with the confirmation. */
    fields: Record<string, string>;
    /** What the question names besides the address (a factor's name). */
    values?: Record<string, string>;
  },
): Content {
  const { t } = ctx;
  const back = `${ctx.prefix}/admin/users/${encodeURIComponent(options.userId)}`;
  return layout(
    ctx,
    t("admin.confirm.title"),
    html`<h1>${t("admin.confirm.title")}</h1>
<p>${t(`admin.confirm.${options.action}`, { email: options.email, roles: options.fields.roles ?? "", ...options.values })}</p>
<form method="post" action="${back}/${options.action}">
${Object.entries(options.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" name="confirm" value="yes">
<button type="submit">${t(`admin.action.${options.action}`)}</button>
</form>
<p><a href="${back}">${t("admin.confirm.cancel")}</a></p>`,
  );
}

export function adminAuditPage(
  ctx: PageContext,
  options: {
    events: AuditRecord[];
    filters: { user?: string; type?: string; since?: string; until?: string };
    types: readonly string[];
    olderHref: string | null;
  },
): Content {
  const { t } = ctx;
  const f = options.filters;
  return layout(
    ctx,
    t("admin.audit.title"),
    html`${adminNav(ctx)}<h1>${t("admin.audit.title")}</h1>
<form method="get" action="${ctx.prefix}/admin/audit" role="search">
  <label for="user">${t("admin.audit.user")}</label>
  <input id="user" name="user" value="${f.user ?? ""}" maxlength="254">
  <label for="type">${t("admin.audit.kind")}</label>
  <select id="type" name="type">${option("", t("admin.any"), f.type)}${options.types.map((type) => option(type, eventKind(ctx, type), f.type))}</select>
  <label for="since">${t("admin.audit.since")}</label>
  <input id="since" name="since" type="datetime-local" value="${f.since ?? ""}">
  <label for="until">${t("admin.audit.until")}</label>
  <input id="until" name="until" type="datetime-local" value="${f.until ?? ""}">
  <button type="submit" class="secondary">${t("admin.audit.filter")}</button>
</form>
${options.events.length === 0 ? html`<p>${t("admin.audit.none")}</p>` : auditTable(ctx, options.events, { admin: true })}
${options.olderHref ? html`<p><a href="${options.olderHref}" rel="next">${t("admin.audit.older")}</a></p>` : ""}`,
    true,
  );
}
