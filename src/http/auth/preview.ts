// AUTH_PREFIX/preview: every page state rendered with the current branding,
// one per URL (AUTH_PREFIX/preview/<state>, pages/preview-states.ts) and an
// index linking them, so a designer checks them all at once. Nothing is
// stored or sent. ?brand=<name> shows a brand of BRANDS.
// Invariant: reachable only with PREVIEW_PAGES=true or by a signed-in admin
// (ADMIN_ROLE, as the admin console checks it); anyone else gets the 404 of
// a path that does not exist.
import { Hono, type MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { ServiceError } from "../../errors.ts";
import { layout } from "../pages/layout.ts";
import { PREVIEW_STATES } from "../pages/preview-states.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";

export function previewRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { config, prefix } = kit;
  const app = new Hono<AuthEnv>();

  const guard: MiddlewareHandler<AuthEnv> = async (c, next) => {
    const signedIn = config.preview_pages ? null : await session.lookUp(c);
    if (!config.preview_pages && !signedIn?.user.roles.includes(config.admin_role))
      throw new ServiceError("not_found", "No such endpoint.");
    const name = c.req.query("brand");
    if (name !== undefined) {
      const brand = kit.brands.named(name);
      if (!brand)
        throw new ServiceError(
          "not_found",
          `No brand named "${name.slice(0, 64)}"; there are ${kit.brands.all.map((one) => one.id).join(", ")}.`,
        );
      c.set("brand", brand);
    }
    await next();
  };
  app.use("/preview", guard);
  app.use("/preview/*", guard);

  const query = (c: { req: { query(name: string): string | undefined } }) => {
    const brand = c.req.query("brand");
    return brand ? `?brand=${encodeURIComponent(brand)}` : "";
  };

  app.get("/preview", (c) => {
    const ctx = kit.page(c);
    const { t } = ctx;
    return c.html(
      layout(
        ctx,
        t("preview.title"),
        html`<h1>${t("preview.title")}</h1>
<p>${t("preview.intro", { brand: ctx.brand.id })}</p>
${
  kit.brands.all.length > 1
    ? html`<p>${t("preview.brands")} ${kit.brands.all.map(
        (brand, i) =>
          html`${i > 0 ? ", " : ""}<a href="${prefix}/preview?brand=${brand.id}">${brand.id}</a>`,
      )}</p>`
    : ""
}
<ul>${PREVIEW_STATES.map(
          (state) =>
            html`<li><a href="${prefix}/preview/${state.id}${query(c)}">${t(`preview.state.${state.id}`)}</a></li>`,
        )}</ul>`,
        true,
      ),
    );
  });

  app.get("/preview/:state", (c) => {
    const state = PREVIEW_STATES.find((one) => one.id === c.req.param("state"));
    if (!state)
      throw new ServiceError(
        "not_found",
        `No such state; there are ${PREVIEW_STATES.map((one) => one.id).join(", ")}.`,
      );
    return c.html(state.render(kit.page(c)));
  });

  return app;
}
