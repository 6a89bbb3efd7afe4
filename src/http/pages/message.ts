// A page that says one thing, with at most one link onwards: outcomes,
// refusals and broken links.
import { html } from "hono/html";
import { type Content, layout, type PageContext } from "./layout.ts";

export function messagePage(
  ctx: PageContext,
  title: string,
  message: string,
  link?: { href: string; text: string },
): Content {
  return layout(
    ctx,
    title,
    html`<h1>${title}</h1>
<p>${message}</p>
${link ? html`<p><a href="${link.href}">${link.text}</a></p>` : ""}`,
  );
}
