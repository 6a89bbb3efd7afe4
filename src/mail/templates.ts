// The messages gatehouse sends: a subject, a text body and an HTML body per
// kind, in the recipient's language. The built-in messages take every
// sentence from the catalogues' `mail` area (i18n/locales/<locale>/mail.json),
// laid out by the blocks below. A deployment overrides any part with Mustache
// files in EMAIL_TEMPLATES_DIR: <locale>/<kind>.<part> for one language, else
// <kind>.<part> for all; an override is used as written, whatever the
// language; what it leaves out stays built in. Values are HTML-escaped in the
// HTML body only.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Mustache from "mustache";
import type { Translate } from "../i18n/catalogue.ts";
import { ConfigError } from "../kernel/config-error.ts";
import { type Block, PASSKEY_KINDS, PASSKEY_MESSAGES } from "./passkey-templates.ts";

export type { Block } from "./passkey-templates.ts";

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

/** A value for a message: text, or text that depends on the recipient's language. */
export type MailValue = string | ((t: Translate) => string);

/** What every template may use: {{siteName}}, {{email}}, {{buttonColor}}, {{buttonTextColor}}, and the links of its kind. */
export type MessageValues = { siteName: string; email: string } & Record<string, string>;

export type RenderedMessage = { subject: string; text: string; html: string };

const PARTS = ["subject", "txt", "html"] as const;
type Part = (typeof PARTS)[number];

/** The built-in messages: each block is a paragraph or a button, its sentences in `mail.<kind>.*`. */
const BUILT_IN: Record<MessageKind, Block[]> = {
  invitation: [{ p: "intro" }, { button: "link", label: "button" }, { p: "footer" }],
  "verify-email": [{ p: "intro" }, { button: "link", label: "button" }, { p: "footer" }],
  "reset-password": [{ p: "intro" }, { button: "link", label: "button" }, { p: "footer" }],
  "already-registered": [
    { p: "intro" },
    { p: "signIn", links: ["loginLink"] },
    { p: "reset", links: ["resetLink"] },
  ],
  "password-changed": [{ p: "intro" }, { value: "removed" }, { p: "notYou", links: ["resetLink"] }],
  "address-confirmed": [
    { p: "intro" },
    { value: "removed" },
    { p: "notYou", links: ["resetLink"] },
  ],
  "second-factor-changed": [
    { p: "intro" },
    { p: "notYou", links: ["accountLink"] },
    { p: "locked" },
  ],
  ...PASSKEY_MESSAGES,
};

const escapeHtml = (text: string) =>
  text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");

const wrap = (body: string) =>
  `<!doctype html><html><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1d2330">${body}</body></html>`;

const anchor = (url: string, label = url) =>
  `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>`;

/** A sentence as HTML: escaped, with the named link values made links. */
function htmlSentence(
  t: Translate,
  key: string,
  values: MessageValues,
  links: string[] = [],
): string {
  const marks: Record<string, string> = {};
  for (const name of links) marks[name] = `\u0001${name}\u0002`;
  let sentence = escapeHtml(t(key, { ...values, ...marks }));
  for (const name of links)
    sentence = sentence.replace(marks[name] as string, anchor(values[name] ?? ""));
  return sentence;
}

function builtIn(
  kind: MessageKind,
  values: MessageValues,
  t: Translate,
  colors: MailColors,
): Record<Part, string> {
  const key = (name: string) => `mail.${kind}.${name}`;
  const text: string[] = [t("mail.greeting")];
  const html: string[] = [`<p>${escapeHtml(t("mail.greeting"))}</p>`];
  for (const block of BUILT_IN[kind]) {
    if ("p" in block) {
      text.push(t(key(block.p), values));
      html.push(`<p>${htmlSentence(t, key(block.p), values, block.links)}</p>`);
    } else if ("button" in block) {
      const url = values[block.button] ?? "";
      const label = t(key(block.label), values);
      text.push(`${label}:\n${url}`);
      html.push(
        `<p><a href="${escapeHtml(url)}" style="display: inline-block; padding: .6rem 1rem; background: ${colors.buttonColor}; color: ${colors.buttonTextColor}; border-radius: 6px; text-decoration: none">${escapeHtml(label)}</a></p>`,
        `<p style="color: #5b6475; font-size: .9rem">${htmlSentence(t, "mail.pasteLink", { ...values, link: url }, ["link"])}</p>`,
      );
    } else if (values[block.value]) {
      text.push(values[block.value] as string);
      html.push(`<p>${escapeHtml(values[block.value] as string)}</p>`);
    }
  }
  return {
    subject: t(key("subject"), values),
    txt: `${text.join("\n\n")}\n`,
    html: wrap(html.join("")),
  };
}

const unescaped = { escape: (value: string) => value };

export type Templates = {
  /** The message of `kind` in `locale`, with `t` that locale's messages. */
  render(kind: MessageKind, values: MessageValues, locale: string, t: Translate): RenderedMessage;
};

/** The default brand's button colours (BRAND_PRIMARY_COLOR), as the HTML mails use them. */
export type MailColors = { buttonColor: string; buttonTextColor: string };

const BUILT_IN_COLORS: MailColors = { buttonColor: "#2b59c3", buttonTextColor: "#ffffff" };

/** Reads one folder's override files, checking each parses; throws naming the file otherwise. */
function readOverrides(dir: string): Map<string, string> {
  const found = new Map<string, string>();
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
      found.set(`${kind}.${part}`, text);
    }
  }
  return found;
}

/** Loads the overrides (all languages, and each language's folder), checking every file parses. */
export function loadTemplates(dir?: string, colors: MailColors = BUILT_IN_COLORS): Templates {
  const common = dir ? readOverrides(dir) : new Map<string, string>();
  const perLocale = new Map<string, Map<string, string>>();
  if (dir && existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (statSync(join(dir, name)).isDirectory())
        perLocale.set(name.toLowerCase(), readOverrides(join(dir, name)));
    }
  }
  return {
    render(kind, values, locale, t) {
      const own = perLocale.get(locale.toLowerCase());
      const override = (part: Part) => own?.get(`${kind}.${part}`) ?? common.get(`${kind}.${part}`);
      const built = builtIn(kind, values, t, colors);
      const part = (name: Part, inHtml: boolean) => {
        const template = override(name);
        if (template === undefined) return built[name];
        const all = { ...values, ...colors };
        return inHtml
          ? Mustache.render(template, all)
          : Mustache.render(template, all, {}, unescaped);
      };
      return {
        // A header cannot hold a line break: a value with one must not add headers.
        subject: part("subject", false)
          .replace(/[\r\n]+/g, " ")
          .trim(),
        text: part("txt", false),
        html: part("html", true),
      };
    },
  };
}
