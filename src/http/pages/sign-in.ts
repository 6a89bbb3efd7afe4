// The sign-in pages: sign in, create an account, confirm an address, ask for
// a reset link, choose a new password, sign out.
import { html } from "hono/html";
import { type Content, errorBlock, layout, type PageContext, withRd } from "./layout.ts";
import { passkeyLoginSection } from "./passkeys.ts";

export function loginPage(
  ctx: PageContext,
  options: {
    rd?: string;
    email?: string;
    error?: string;
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
    ${options.error ? html`aria-describedby="form-error"` : ""}>
  <label for="password">${t("sign-in.password")}</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
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
  options: { rd?: string; email?: string; name?: string; error?: string },
): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.registerTitle"),
    html`<h1>${t("sign-in.registerHeading")}</h1>
${errorBlock(options.error)}
<form method="post" action="${withRd(`${ctx.prefix}/register`, options.rd)}" novalidate>
  <label for="email">${t("sign-in.email")}</label>
  <input id="email" name="email" type="email" autocomplete="email" required value="${options.email ?? ""}">
  <label for="name">${t("sign-in.name")} <span class="hint">${t("sign-in.optional")}</span></label>
  <input id="name" name="name" type="text" autocomplete="name" value="${options.name ?? ""}">
  <label for="password">${t("sign-in.password")}</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
    aria-describedby="password-hint">
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
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}">
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
    aria-describedby="password-hint">
  <p class="hint" id="password-hint">${t("sign-in.resetHint")}</p>
  <button type="submit">${t("sign-in.resetSubmit")}</button>
</form>`,
  );
}

/** GET /logout: signing out is a POST, so the page is its button (and a way back). */
export function logoutPage(ctx: PageContext): Content {
  const { t } = ctx;
  return layout(
    ctx,
    t("sign-in.logoutTitle"),
    html`<h1>${t("sign-in.logoutTitle")}</h1>
<p>${t("sign-in.logoutMessage", { siteName: ctx.siteName })}</p>
<form method="post" action="${ctx.prefix}/logout">
  <button type="submit">${t("sign-in.logoutSubmit")}</button>
</form>
<p class="muted"><a href="${ctx.prefix}/account">${t("sign-in.goToAccount")}</a></p>`,
  );
}
