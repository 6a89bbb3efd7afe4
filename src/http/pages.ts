// The hosted pages: server-rendered HTML that works without JavaScript. Every
// value is escaped by the html template tag. Themeable through CSS custom
// properties (override them in a stylesheet served by the proxy from the same
// origin). Nothing inline but the one stylesheet below, which the CSP allows
// by its hash: no scripts, no style attributes.
import { createHash } from "node:crypto";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ApiKeySummary } from "../api-keys/service.ts";
import type { IdentitySummary } from "../oauth/service.ts";
import type { SessionRecord, SessionUser } from "../sessions/store.ts";

type Content = HtmlEscapedString | Promise<HtmlEscapedString>;

export type PageContext = {
  siteName: string;
  prefix: string;
  /** Sign-in providers, a button each on the login page. */
  providers?: { id: string; displayName: string }[];
};

const STYLE = `
:root { --gh-bg: #f5f6f8; --gh-card: #fff; --gh-text: #1d2330; --gh-muted: #5b6475; --gh-accent: #2b59c3;
  --gh-accent-text: #fff; --gh-error: #a4262c; --gh-border: #d5d9e0; --gh-radius: 8px;
  --gh-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--gh-bg); color: var(--gh-text); font: 16px/1.5 var(--gh-font); }
main { max-width: 26rem; margin: 8vh auto; padding: 2rem; background: var(--gh-card);
  border: 1px solid var(--gh-border); border-radius: var(--gh-radius); }
main.wide { max-width: 44rem; }
h1 { font-size: 1.4rem; margin: 0 0 1.25rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; padding: .6rem .7rem; font: inherit; border: 1px solid var(--gh-border); border-radius: 6px; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--gh-accent); outline-offset: 2px; }
button { margin-top: 1.25rem; width: 100%; padding: .65rem; font: inherit; font-weight: 600; cursor: pointer;
  color: var(--gh-accent-text); background: var(--gh-accent); border: 0; border-radius: 6px; }
button.secondary { background: transparent; color: var(--gh-accent); border: 1px solid var(--gh-accent); }
table button { width: auto; margin: 0; padding: .3rem .7rem; }
.error { color: var(--gh-error); border-left: 4px solid var(--gh-error); padding: .5rem .75rem; background: #fdf3f4; }
.notice { border-left: 4px solid var(--gh-accent); padding: .5rem .75rem; background: #f1f5fd; }
.muted, .hint { color: var(--gh-muted); font-size: .9rem; }
.providers { margin-top: 1rem; display: grid; gap: .5rem; }
a.provider { display: block; text-align: center; padding: .6rem; border: 1px solid var(--gh-border); border-radius: 6px;
  color: var(--gh-text); text-decoration: none; font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid var(--gh-border); }
input[type="checkbox"] { width: auto; }
`;

/** The CSP source that allows the inline stylesheet, and nothing else inline. */
export const STYLE_HASH_SOURCE = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

function layout(ctx: PageContext, title: string, body: Content, wide = false): Content {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · ${ctx.siteName}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<main${wide ? html` class="wide"` : ""}>
${body}
</main>
</body>
</html>`;
}

function errorBlock(message: string | undefined): Content | string {
  return message ? html`<p class="error" role="alert" id="form-error">${message}</p>` : "";
}

function withRd(path: string, rd: string | undefined): string {
  return rd ? `${path}?rd=${encodeURIComponent(rd)}` : path;
}

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
  return layout(
    ctx,
    "Sign in",
    html`<h1>Sign in to ${ctx.siteName}</h1>
${errorBlock(options.error)}
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ""}
<form method="post" action="${withRd(`${ctx.prefix}/login`, options.rd)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}"
    ${options.error ? html`aria-describedby="form-error"` : ""}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
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
  options: { rd?: string; email?: string; name?: string; error?: string },
): Content {
  return layout(
    ctx,
    "Create account",
    html`<h1>Create your account</h1>
${errorBlock(options.error)}
<form method="post" action="${withRd(`${ctx.prefix}/register`, options.rd)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="email" required value="${options.email ?? ""}">
  <label for="name">Name <span class="hint">(optional)</span></label>
  <input id="name" name="name" type="text" autocomplete="name" value="${options.name ?? ""}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
    aria-describedby="password-hint">
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
  <input id="email" name="email" type="email" autocomplete="username" required value="${options.email ?? ""}">
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
    aria-describedby="password-hint">
  <p class="hint" id="password-hint">At least 8 characters. Every session of your account will be signed out.</p>
  <button type="submit">Set the new password</button>
</form>`,
  );
}

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

export function accountPage(
  ctx: PageContext,
  options: {
    user: SessionUser;
    sessions: SessionRecord[];
    currentSessionId: string;
    apiKeys: ApiKeySummary[];
    identities: IdentitySummary[];
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
  const rows = options.sessions.map(
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
    ? html`<table>
  <thead><tr><th scope="col">Provider</th><th scope="col">Account</th><th scope="col">Linked</th><th scope="col"></th></tr></thead>
  <tbody>${options.identities.map(
    (identity) => html`<tr>
  <td>${identity.providerName}</td>
  <td>${identity.email ?? identity.name ?? ""}</td>
  <td>${identity.createdAt.slice(0, 10)}</td>
  <td><form method="post" action="${ctx.prefix}/identities/${identity.id}/unlink"><button type="submit" class="secondary" aria-label="Unlink ${identity.providerName}">Unlink</button></form></td>
</tr>`,
  )}</tbody>
</table>`
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
<h2>Active sessions</h2>
<table>
  <thead><tr><th scope="col">Signed in</th><th scope="col">Address</th><th scope="col">Browser</th><th scope="col"></th></tr></thead>
  <tbody>${rows}</tbody>
</table>
<form method="post" action="${ctx.prefix}/sessions/revoke-others"><button type="submit" class="secondary">Sign out all other sessions</button></form>
<h2>API keys</h2>
${
  options.newKey
    ? html`<div class="notice" role="status"><p>Your new key “${options.newKey.name}”. Copy it now: it will not be shown again.</p><p><code id="new-api-key">${options.newKey.key}</code></p></div>`
    : ""
}
${
  options.apiKeys.length > 0
    ? html`<table>
  <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"></th></tr></thead>
  <tbody>${keyRows}</tbody>
</table>`
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
<form method="post" action="${ctx.prefix}/logout"><button type="submit">Sign out</button></form>`,
    true,
  );
}
