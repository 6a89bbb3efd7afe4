// The account page's view of sign-ins across sites (SITES): the sessions
// table lists each sign-in once (its home session), and this section lists,
// per sign-in, the sites it reaches. Nothing shows without satellites.
import { html } from "hono/html";
import type { SessionRecord } from "../../sessions/store.ts";
import { dateTime } from "./dates.ts";
import type { Content, PageContext } from "./layout.ts";

/** The sessions a person signed in with: satellite sessions are part of their sign-in, not rows of their own. */
export function signInsOnly(sessions: SessionRecord[]): SessionRecord[] {
  return sessions.filter((session) => !session.site);
}

export function signInSitesSection(
  ctx: PageContext,
  sessions: SessionRecord[],
  currentSessionId: string,
): Content | string {
  const satellites = sessions.filter((session) => session.site);
  if (satellites.length === 0) return "";
  const rows = signInsOnly(sessions).map((signIn) => {
    const group = signIn.signInId ?? signIn.id;
    const reached = satellites
      .filter((session) => session.signInId === group)
      .map((session) => session.site as string);
    const sites = [ctx.t("sites.home_site", { name: ctx.siteName }), ...new Set(reached)];
    return html`<tr>
  <td>${dateTime(ctx, signIn.createdAt)}${signIn.id === currentSessionId ? html` (${ctx.t("sites.this_browser")})` : ""}</td>
  <td>${sites.join(", ")}</td>
</tr>`;
  });
  return html`<h2>${ctx.t("sites.section_title")}</h2>
<p class="muted">${ctx.t("sites.section_intro")}</p>
<div class="table-scroll"><table>
  <thead><tr><th scope="col">${ctx.t("sites.signed_in_at")}</th><th scope="col">${ctx.t("sites.sites")}</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`;
}
