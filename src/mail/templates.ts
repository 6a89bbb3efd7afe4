// The messages gatehouse sends, as Mustache templates: a subject, a text body
// and an HTML body per kind. A deployment overrides any of them with files in
// EMAIL_TEMPLATES_DIR named <kind>.subject, <kind>.txt and <kind>.html; what
// it leaves out stays built in. Values are HTML-escaped in the HTML body only.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Mustache from "mustache";
import { ConfigError } from "../kernel/config-error.ts";
import { PASSKEY_KINDS, PASSKEY_TEMPLATES } from "./passkey-templates.ts";

export const MESSAGE_KINDS = [
  "verify-email",
  "reset-password",
  "already-registered",
  "password-changed",
  "address-confirmed",
  "second-factor-changed",
  ...PASSKEY_KINDS,
  "invitation",
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** What every template may use: {{siteName}}, {{email}}, {{buttonColor}}, {{buttonTextColor}}, and the links of its kind. */
export type MessageValues = { siteName: string; email: string } & Record<string, string>;

export type Template = { subject: string; txt: string; html: string };
export type RenderedMessage = { subject: string; text: string; html: string };

const wrap = (body: string) =>
  `<!doctype html><html><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1d2330">${body}</body></html>`;
const button = (link: string, label: string) =>
  `<p><a href="${link}" style="display: inline-block; padding: .6rem 1rem; background: {{buttonColor}}; color: {{buttonTextColor}}; border-radius: 6px; text-decoration: none">${label}</a></p><p style="color: #5b6475; font-size: .9rem">Or paste this link into your browser: ${link}</p>`;

const BUILT_IN: Record<MessageKind, Template> = {
  invitation: {
    subject: "You are invited to {{siteName}}",
    txt: `Hello,

you are invited to create an account on {{siteName}} for {{email}}. To accept, open this link:

{{{link}}}

The link works once, for {{expiresIn}}. If you do not expect this, ignore this message.
`,
    html: wrap(
      `<p>Hello,</p><p>you are invited to create an account on {{siteName}} for {{email}}.</p>${button("{{link}}", "Accept the invitation")}<p>The link works once, for {{expiresIn}}. If you do not expect this, ignore this message.</p>`,
    ),
  },
  "verify-email": {
    subject: "Confirm your email address for {{siteName}}",
    txt: `Hello,

please confirm that {{email}} is your address by opening this link:

{{{link}}}

The link works for {{expiresIn}}. If you did not create an account on {{siteName}}, ignore this message.
`,
    html: wrap(
      `<p>Hello,</p><p>please confirm that {{email}} is your address.</p>${button("{{link}}", "Confirm my address")}<p>The link works for {{expiresIn}}. If you did not create an account on {{siteName}}, ignore this message.</p>`,
    ),
  },
  "reset-password": {
    subject: "Reset your {{siteName}} password",
    txt: `Hello,

someone asked to reset the password of the {{siteName}} account for {{email}}. To choose a new password, open this link:

{{{link}}}

The link works once, for {{expiresIn}}. If you did not ask for this, ignore this message: your password stays as it is.
`,
    html: wrap(
      `<p>Hello,</p><p>someone asked to reset the password of the {{siteName}} account for {{email}}.</p>${button("{{link}}", "Choose a new password")}<p>The link works once, for {{expiresIn}}. If you did not ask for this, ignore this message: your password stays as it is.</p>`,
    ),
  },
  "already-registered": {
    subject: "Your {{siteName}} account",
    txt: `Hello,

someone tried to create a {{siteName}} account for {{email}}, but this address already has one. Nothing was changed.

If it was you, sign in: {{{loginLink}}}
Forgot your password? Reset it: {{{resetLink}}}
`,
    html: wrap(
      `<p>Hello,</p><p>someone tried to create a {{siteName}} account for {{email}}, but this address already has one. Nothing was changed.</p><p>If it was you, <a href="{{loginLink}}">sign in</a>. Forgot your password? <a href="{{resetLink}}">Reset it</a>.</p>`,
    ),
  },
  "password-changed": {
    subject: "Your {{siteName}} password was changed",
    txt: `Hello,

the password of the {{siteName}} account for {{email}} was just changed.
{{#removed}}

{{{removed}}}
{{/removed}}

If this was not you, reset your password now: {{{resetLink}}}
`,
    html: wrap(
      `<p>Hello,</p><p>the password of the {{siteName}} account for {{email}} was just changed.</p>{{#removed}}<p>{{removed}}</p>{{/removed}}<p>If this was not you, <a href="{{resetLink}}">reset your password now</a>.</p>`,
    ),
  },
  "address-confirmed": {
    subject: "Your {{siteName}} address is confirmed",
    txt: `Hello,

the address {{email}} was just confirmed for its {{siteName}} account.

{{{removed}}}

If you did not create this account yourself, someone else did with your address: choose a new password to take it over: {{{resetLink}}}
`,
    html: wrap(
      `<p>Hello,</p><p>the address {{email}} was just confirmed for its {{siteName}} account.</p><p>{{removed}}</p><p>If you did not create this account yourself, someone else did with your address: <a href="{{resetLink}}">choose a new password</a> to take it over.</p>`,
    ),
  },
  "second-factor-changed": {
    subject: "Your {{siteName}} sign-in factors changed",
    txt: `Hello,

on the {{siteName}} account for {{email}}: {{change}}

If this was not you, sign in and check your account now: {{{accountLink}}}
If you cannot sign in any more, ask the site's operator to reset your second factors.
`,
    html: wrap(
      `<p>Hello,</p><p>on the {{siteName}} account for {{email}}: {{change}}</p><p>If this was not you, <a href="{{accountLink}}">sign in and check your account now</a>. If you cannot sign in any more, ask the site's operator to reset your second factors.</p>`,
    ),
  },
  ...PASSKEY_TEMPLATES,
};

const PARTS = ["subject", "txt", "html"] as const;
const unescaped = { escape: (value: string) => value };

export type Templates = { render(kind: MessageKind, values: MessageValues): RenderedMessage };

/** The default brand's button colours (BRAND_PRIMARY_COLOR), as the HTML mails use them. */
export type MailColors = { buttonColor: string; buttonTextColor: string };

const BUILT_IN_COLORS: MailColors = { buttonColor: "#2b59c3", buttonTextColor: "#ffffff" };

/** Loads the templates, checking every override parses; throws naming the file otherwise. */
export function loadTemplates(dir?: string, colors: MailColors = BUILT_IN_COLORS): Templates {
  const templates = structuredClone(BUILT_IN);
  if (dir) {
    for (const kind of MESSAGE_KINDS) {
      for (const part of PARTS) {
        const file = join(dir, `${kind}.${part}`);
        if (!existsSync(file)) continue;
        const text = readFileSync(file, "utf8");
        try {
          Mustache.parse(text);
        } catch (error) {
          throw new ConfigError([`EMAIL_TEMPLATES_DIR: ${file}: ${(error as Error).message}`]);
        }
        templates[kind][part] = text;
      }
    }
  }
  return {
    render(kind, given) {
      const template = templates[kind];
      const values = { ...given, ...colors };
      return {
        // A header cannot hold a line break: a value with one must not add headers.
        subject: Mustache.render(template.subject, values, {}, unescaped)
          .replace(/[\r\n]+/g, " ")
          .trim(),
        text: Mustache.render(template.txt, values, {}, unescaped),
        html: Mustache.render(template.html, values),
      };
    },
  };
}
