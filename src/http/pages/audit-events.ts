// Audit events as a table: the account page's "recent security events" (a
// user's own trail) and the admin console's audit pages share it. Kinds are
// named from the `audit` catalogue; an unknown kind shows as written.
import { html } from "hono/html";
import type { AuditRecord } from "../../accounts/audit.ts";
import { dateTime } from "./dates.ts";
import type { Content, PageContext } from "./layout.ts";

export function eventKind(ctx: PageContext, type: string): string {
  const key = `audit.kind.${type}`;
  const label = ctx.t(key);
  return label === key ? type : label;
}

/** The table; with `admin`, the subject and actor columns link to the accounts. */
export function auditTable(
  ctx: PageContext,
  events: AuditRecord[],
  options: { admin?: boolean } = {},
): Content {
  const t = ctx.t;
  const person = (id: string | null) =>
    !id
      ? ""
      : options.admin && id !== "cli" && id !== "INITIAL_ADMIN_EMAIL"
        ? html`<a href="${ctx.prefix}/admin/users/${encodeURIComponent(id)}"><code>${id.slice(0, 12)}</code></a>`
        : html`<code>${id.slice(0, 12)}</code>`;
  return html`<div class="table-scroll"><table>
  <thead><tr><th scope="col">${t("audit.col.when")}</th><th scope="col">${t("audit.col.event")}</th>${
    options.admin ? html`<th scope="col">${t("audit.col.subject")}</th>` : ""
  }<th scope="col">${t("audit.col.actor")}</th><th scope="col">${t("audit.col.address")}</th><th scope="col">${t("audit.col.browser")}</th><th scope="col">${t("audit.col.outcome")}</th></tr></thead>
  <tbody>${events.map(
    (event) => html`<tr>
  <td>${dateTime(ctx, event.at)}</td>
  <td>${eventKind(ctx, event.type)}</td>
  ${options.admin ? html`<td>${person(event.userId)}</td>` : ""}
  <td>${
    options.admin
      ? person(event.actorId)
      : event.actorId === event.userId
        ? t("audit.by.you")
        : t("audit.by.admin")
  }</td>
  <td>${event.ip ?? ""}</td>
  <td>${(event.userAgent ?? "").slice(0, 60)}</td>
  <td>${t(event.outcome === "failure" ? "audit.outcome.failure" : "audit.outcome.success")}</td>
</tr>`,
  )}</tbody>
</table></div>`;
}

/** The account page's section: the user's own recent events. */
export function recentSecurityEvents(
  ctx: PageContext,
  events: AuditRecord[] | undefined,
): Content | string {
  if (!events) return "";
  return html`<h2>${ctx.t("audit.recent.title")}</h2>
${events.length === 0 ? html`<p>${ctx.t("audit.recent.none")}</p>` : html`${auditTable(ctx, events)}<p class="hint">${ctx.t("audit.recent.hint")}</p>`}`;
}
