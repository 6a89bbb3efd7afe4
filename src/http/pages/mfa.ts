// The second-factor pages: the step-up page (the second step of a sign-in,
// or proving a factor again for a rule or a change), setting up an
// authenticator app, and recovery codes shown once. Each factor kind renders
// its own form section, in the order the user's factors are listed: each
// kind (a passkey, an app's code, a recovery code) has its renderer in
// FACTOR_FORMS.
import { html, raw } from "hono/html";
import { type Content, errorBlock, fieldAria, layout, type PageContext, withRd } from "./layout.ts";
import { passkeyStepUpSection } from "./passkeys.ts";

export type StepUpKind = "passkey" | "totp" | "recovery" | (string & {});

/** `invalid`: the error shown is about this form's code (it was the one posted). */
type FormOptions = { rd?: string | undefined; autofocus: boolean; invalid?: boolean };

/** One form section per factor kind; each posts to /mfa/verify with its kind. */
export const FACTOR_FORMS: Record<string, (ctx: PageContext, options: FormOptions) => Content> = {
  totp: (ctx, { rd, autofocus, invalid = false }) => html`<section aria-labelledby="totp-title">
<h2 id="totp-title">${ctx.t("mfa.totpTitle")}</h2>
<form method="post" action="${withRd(`${ctx.prefix}/mfa/verify`, rd)}">
  <input type="hidden" name="kind" value="totp">
  <label for="totp-code">${ctx.t("mfa.totpLabel")}</label>
  <input id="totp-code" name="code" type="text" inputmode="numeric" pattern="[0-9 ]*" maxlength="7"
    autocomplete="one-time-code" required${autofocus && !invalid ? raw(" autofocus") : ""}${fieldAria(invalid)}>
  <button type="submit">${ctx.t("mfa.verify")}</button>
</form>
</section>`,
  recovery: (ctx, { rd, invalid = false }) => html`<section aria-labelledby="recovery-title">
<h2 id="recovery-title">${ctx.t("mfa.recoveryTitle")}</h2>
<form method="post" action="${withRd(`${ctx.prefix}/mfa/verify`, rd)}">
  <input type="hidden" name="kind" value="recovery">
  <label for="recovery-code">${ctx.t("mfa.recoveryLabel")}</label>
  <input id="recovery-code" name="code" type="text" autocomplete="one-time-code" autocapitalize="none"
    spellcheck="false" maxlength="40" required${fieldAria(invalid)}>
  <button type="submit" class="secondary">${ctx.t("mfa.useRecovery")}</button>
</form>
</section>`,
  passkey: (ctx, options) => passkeyStepUpSection(ctx, options),
};

export function stepUpPage(
  ctx: PageContext,
  options: {
    /** The factor kinds this user can prove, in order. */
    kinds: StepUpKind[];
    /** Half signed in (a sign-in's second step) rather than a session proving a factor again. */
    signingIn: boolean;
    rd?: string | undefined;
    error?: string | undefined;
    /** The kind whose form was posted, when the error is about its code. */
    errorKind?: string | undefined;
  },
): Content {
  const { kinds, rd } = options;
  const invalid = (kind: string) => !!options.error && kind === options.errorKind;
  const forms = kinds
    .map((kind, i) =>
      FACTOR_FORMS[kind]?.(ctx, {
        rd,
        autofocus: i === 0 && !kinds.some(invalid),
        invalid: invalid(kind),
      }),
    )
    .filter((form) => form !== undefined);
  return layout(
    ctx,
    ctx.t("mfa.stepUpTitle"),
    html`<h1>${ctx.t("mfa.stepUpTitle")}</h1>
${errorBlock(options.error)}
<p>${options.signingIn ? ctx.t("mfa.signingInIntro") : ctx.t("mfa.stepUpIntro")}</p>
${
  forms.length > 0
    ? forms
    : html`<p>${ctx.t("mfa.noFactor")}</p>
<p><a href="${withRd(`${ctx.prefix}/mfa/setup`, rd)}">${ctx.t("mfa.setUpNow")}</a></p>`
}
${
  options.signingIn
    ? html`<p class="muted"><a href="${ctx.prefix}/login">${ctx.t("mfa.startOver")}</a></p>
<p class="muted">${ctx.t("mfa.lostFactor")}</p>`
    : html`<p class="muted"><a href="${withRd(`${ctx.prefix}/login`, rd)}">${ctx.t("mfa.signInAgain")}</a></p>`
}`,
  );
}

export function totpSetupPage(
  ctx: PageContext,
  options: {
    setup: { secret: string; uri: string; qrSvg: string } | null;
    /** Already set up: nothing to do here. */
    enabled: boolean;
    /** Where "sign in again" comes back to (this page). */
    reauthUrl?: string;
    rd?: string | undefined;
    error?: string | undefined;
  },
): Content {
  const { setup, rd } = options;
  const secret = setup?.secret.match(/.{1,4}/g)?.join(" ") ?? "";
  return layout(
    ctx,
    ctx.t("mfa.setupTitle"),
    html`<h1>${ctx.t("mfa.setupTitle")}</h1>
${errorBlock(options.error)}
${
  options.enabled
    ? html`<p>${ctx.t("mfa.alreadySetUp")}</p>`
    : !setup
      ? html`<p>${ctx.t("mfa.needsRecentSignIn")}</p>
<p><a href="${withRd(`${ctx.prefix}/login`, options.reauthUrl)}">${ctx.t("mfa.signInAgain")}</a></p>`
      : html`<ol>
  <li>${ctx.t("mfa.setupScan")}</li>
  <li>${ctx.t("mfa.setupEnter")}</li>
</ol>
<div class="qr" role="img" aria-label="${ctx.t("mfa.qrLabel")}">${raw(setup.qrSvg)}</div>
<p>${ctx.t("mfa.setupManual")}</p>
<p><code id="totp-secret">${secret}</code></p>
<form method="post" action="${withRd(`${ctx.prefix}/mfa/totp/confirm`, rd)}">
  <label for="totp-code">${ctx.t("mfa.totpLabel")}</label>
  <input id="totp-code" name="code" type="text" inputmode="numeric" pattern="[0-9 ]*" maxlength="7"
    autocomplete="one-time-code" required${fieldAria(!!options.error)}>
  <button type="submit">${ctx.t("mfa.confirm")}</button>
</form>`
}
${ctx.passkeys && !options.enabled ? html`<p>${ctx.t("mfa.orPasskey")} <a href="${ctx.prefix}/account#passkeys">${ctx.t("mfa.addPasskey")}</a></p>` : ""}
<p class="muted"><a href="${ctx.prefix}/account">${ctx.t("mfa.backToAccount")}</a></p>`,
  );
}

export function recoveryCodesPage(
  ctx: PageContext,
  options: { codes: string[]; next: string; enabledNow: boolean },
): Content {
  return layout(
    ctx,
    ctx.t("mfa.codesTitle"),
    html`<h1>${ctx.t("mfa.codesTitle")}</h1>
${options.enabledNow ? html`<p class="notice" role="status">${ctx.t("mfa.enabledNotice")}</p>` : ""}
<p>${ctx.t("mfa.codesIntro", { count: options.codes.length })}</p>
<ul id="recovery-codes">${options.codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<p><a href="${options.next}">${ctx.t("mfa.continue")}</a></p>`,
  );
}
