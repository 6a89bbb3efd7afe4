// The notices sent when a passkey is added to or removed from an account:
// the owner learns of it at once, from the address they control, and can
// act if it was not them.
import type { Template } from "./templates.ts";

export const PASSKEY_KINDS = ["passkey-added", "passkey-removed"] as const;

const html = (body: string) =>
  `<!doctype html><html><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1d2330">${body}</body></html>`;

export const PASSKEY_TEMPLATES: Record<(typeof PASSKEY_KINDS)[number], Template> = {
  "passkey-added": {
    subject: "A passkey was added to your {{siteName}} account",
    txt: `Hello,

the passkey "{{passkeyName}}" was just added to the {{siteName}} account for {{email}}. It can now sign in to this account without a password.

If this was not you, remove it and change your password: {{{accountLink}}}
`,
    html: html(
      `<p>Hello,</p><p>the passkey “{{passkeyName}}” was just added to the {{siteName}} account for {{email}}. It can now sign in to this account without a password.</p><p>If this was not you, <a href="{{accountLink}}">remove it and change your password</a>.</p>`,
    ),
  },
  "passkey-removed": {
    subject: "A passkey was removed from your {{siteName}} account",
    txt: `Hello,

the passkey "{{passkeyName}}" was just removed from the {{siteName}} account for {{email}}. It can no longer sign in to this account.

If this was not you, change your password and check your account: {{{accountLink}}}
`,
    html: html(
      `<p>Hello,</p><p>the passkey “{{passkeyName}}” was just removed from the {{siteName}} account for {{email}}. It can no longer sign in to this account.</p><p>If this was not you, <a href="{{accountLink}}">change your password and check your account</a>.</p>`,
    ),
  },
};
