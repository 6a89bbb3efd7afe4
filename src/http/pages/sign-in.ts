// The sign-in pages: sign in, create an account, confirm an address, ask for
// a reset link, choose a new password, sign out.
import { html } from "hono/html";
import { type Content, errorBlock, fieldAria, layout, type PageContext, withRd } from "./layout.ts";
import { passkeyLoginSection } from "./passkeys.ts";

export function loginPage(
  ctx: PageContext,
  options: {
    rd?: string;
    email?: string;
    error?: string;
    /** The field the error is about; none: the pair (a failed sign-in). */
    errorField?: string | undefined;
    notice?: string;
    registrationEnabled: boolean;
  },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.title"),
    html`<h1>${t("sign-in.heading", { siteName: ctx.siteName })}</h1>
${errorBlock(options.error)}
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ""}
<form method="post" action="${withRd(`${ctx.prefix}/login`, options.rd)}" novalidate>
  <label for="email">${t("sign-in.email")}</label>
  <input id="email" name="email" type="email" autocomplete="username webauthn" required value="${options.email ?? ""}"
    ${fieldAria(!!options.error && (options.errorField ?? "email") === "email")}>
  <label for="password">${t("sign-in.password")}</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required${fieldAria(!!options.error && (options.errorField ?? "password") === "password")}>
  <button type="submit">${t("sign-in.submit")}</button>
</form>
${passkeyLoginSection(ctx, options.rd)}
<p class="muted"><a href="${ctx.prefix}/forgot-password">${t("sign-in.forgot")}</a></p>
${
  ctx.providers?.length
    ? html`<div class="providers" aria-label="${t("sign-in.otherWays")}">${ctx.providers.map(
        (provider) =>
          html`<a class="provider" href="${withRd(`${ctx.prefix}/oauth/${provider.id}`, options.rd)}">${t("sign-in.withProvider", { provider: provider.displayName })}</a>`,
      )}</div>`
    : ""
}
${
  options.registrationEnabled
    ? html`<p class="muted">${t("sign-in.noAccount")} <a href="${withRd(`${ctx.prefix}/register`, options.rd)}">${t("sign-in.createOne")}</a>.</p>`
    : ""
}`,
  );
}

export function registerPage(
  ctx: PageContext,
  options: {
    rd?: string;
    email?: string;
    name?: string;
    error?: string;
    errorField?: string | undefined;
  },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.registerTitle"),
    html`<h1>${t("sign-in.registerHeading")}</h1>
${errorBlock(options.error)}
<form method="post" action="${withRd(`${ctx.prefix}/register`, options.rd)}" novalidate>
  <label for="email">${t("sign-in.email")}</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}"${fieldAria(options.errorField === "email")}>
  <label for="name">${t("sign-in.name")} <span class="hint">${t("sign-in.optional")}</span></label>
  <input id="name" name="name" type="text" autocomplete="name" value="${options.name ?? ""}"${fieldAria(options.errorField === "name")}>
  <label for="password">${t("sign-in.password")}</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
    ${fieldAria(options.errorField === "password", "password-hint")}>
  <p class="hint" id="password-hint">${t("sign-in.passwordHint")}</p>
  <button type="submit">${t("sign-in.registerSubmit")}</button>
</form>
<p class="muted">${t("sign-in.haveAccount")} <a href="${withRd(`${ctx.prefix}/login`, options.rd)}">${t("sign-in.signInLink")}</a>.</p>`,
  );
}

export function verifyEmailPage(ctx: PageContext, options: { token: string }): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.verifyTitle"),
    html`<h1>${t("sign-in.verifyTitle")}</h1>
<p>${t("sign-in.verifyIntro")}</p>
<form method="post" action="${ctx.prefix}/verify-email">
  <input type="hidden" name="token" value="${options.token}">
  <button type="submit">${t("sign-in.verifySubmit")}</button>
</form>`,
  );
}

export function forgotPasswordPage(
  ctx: PageContext,
  options: { email?: string; error?: string },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.forgotTitle"),
    html`<h1>${t("sign-in.forgotTitle")}</h1>
${errorBlock(options.error)}
<p>${t("sign-in.forgotIntro")}</p>
<form method="post" action="${ctx.prefix}/forgot-password" novalidate>
  <label for="email">${t("sign-in.email")}</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}"${fieldAria(!!options.error)}>
  <button type="submit">${t("sign-in.forgotSubmit")}</button>
</form>
<p class="muted"><a href="${ctx.prefix}/login">${t("sign-in.backToSignIn")}</a></p>`,
  );
}

export function resetPasswordPage(
  ctx: PageContext,
  options: { token: string; error?: string },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.resetTitle"),
    html`<h1>${t("sign-in.resetTitle")}</h1>
${errorBlock(options.error)}
<form method="post" action="${ctx.prefix}/reset-password" novalidate>
  <input type="hidden" name="token" value="${options.token}">
  <label for="password">${t("sign-in.newPassword")}</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
    ${fieldAria(!!options.error, "password-hint")}>
  <p class="hint" id="password-hint">${t("sign-in.resetHint")}</p>
  <button type="submit">${t("sign-in.resetSubmit")}</button>
</form>`,
  );
}
