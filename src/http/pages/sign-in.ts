// The sign-in pages: sign in, create an account, confirm an address, ask for
// a reset link, choose a new password.
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
  return layout(
    ctx,
    "Sign in",
    html`<h1>Sign in to ${ctx.siteName}</h1>
${errorBlock(options.error)}
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ""}
<form method="post" action="${withRd(`${ctx.prefix}/login`, options.rd)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username webauthn" required value="${options.email ?? ""}"
    ${fieldAria(!!options.error && (options.errorField ?? "email") === "email")}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required${fieldAria(!!options.error && (options.errorField ?? "password") === "password")}>
  <button type="submit">Sign in</button>
</form>
${passkeyLoginSection(ctx, options.rd)}
<p class="muted"><a href="${ctx.prefix}/forgot-password">Forgot your password?</a></p>
${
  ctx.providers?.length
    ? html`<div class="providers" aria-label="Other ways to sign in">${ctx.providers.map(
        (provider) =>
          html`<a class="provider" href="${withRd(`${ctx.prefix}/oauth/${provider.id}`, options.rd)}">Sign in with ${provider.displayName}</a>`,
      )}</div>`
    : ""
}
${
  options.registrationEnabled
    ? html`<p class="muted">No account yet? <a href="${withRd(`${ctx.prefix}/register`, options.rd)}">Create one</a>.</p>`
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
  return layout(
    ctx,
    "Create account",
    html`<h1>Create your account</h1>
${errorBlock(options.error)}
<form method="post" action="${withRd(`${ctx.prefix}/register`, options.rd)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}"${fieldAria(options.errorField === "email")}>
  <label for="name">Name <span class="hint">(optional)</span></label>
  <input id="name" name="name" type="text" autocomplete="name" value="${options.name ?? ""}"${fieldAria(options.errorField === "name")}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
    ${fieldAria(options.errorField === "password", "password-hint")}>
  <p class="hint" id="password-hint">At least 8 characters. Long passphrases are welcome.</p>
  <button type="submit">Create account</button>
</form>
<p class="muted">Already have an account? <a href="${withRd(`${ctx.prefix}/login`, options.rd)}">Sign in</a>.</p>`,
  );
}

export function verifyEmailPage(ctx: PageContext, options: { token: string }): Content {
  return layout(
    ctx,
    "Confirm your email address",
    html`<h1>Confirm your email address</h1>
<p>Press the button to confirm that this address is yours.</p>
<form method="post" action="${ctx.prefix}/verify-email">
  <input type="hidden" name="token" value="${options.token}">
  <button type="submit">Confirm my address</button>
</form>`,
  );
}

export function forgotPasswordPage(
  ctx: PageContext,
  options: { email?: string; error?: string },
): Content {
  return layout(
    ctx,
    "Reset your password",
    html`<h1>Reset your password</h1>
${errorBlock(options.error)}
<p>Enter the address of your account. We will send it a link to choose a new password.</p>
<form method="post" action="${ctx.prefix}/forgot-password" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}"${fieldAria(!!options.error)}>
  <button type="submit">Send me a link</button>
</form>
<p class="muted"><a href="${ctx.prefix}/login">Back to sign in</a></p>`,
  );
}

export function resetPasswordPage(
  ctx: PageContext,
  options: { token: string; error?: string },
): Content {
  return layout(
    ctx,
    "Choose a new password",
    html`<h1>Choose a new password</h1>
${errorBlock(options.error)}
<form method="post" action="${ctx.prefix}/reset-password" novalidate>
  <input type="hidden" name="token" value="${options.token}">
  <label for="password">New password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
    ${fieldAria(!!options.error, "password-hint")}>
  <p class="hint" id="password-hint">At least 8 characters. Every session of your account will be signed out.</p>
  <button type="submit">Set the new password</button>
</form>`,
  );
}
