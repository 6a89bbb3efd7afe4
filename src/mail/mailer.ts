// Sends the messages of the email flows: through SMTP when SMTP_URL is set,
// otherwise into OUTBOX_DIR as .eml files and to the log, so a newcomer on
// the embedded default can still follow the link. Sending happens in the
// background: a slow or dead mail server never delays an answer, and how long
// an answer takes never tells whether a message was sent. A message is in
// the recipient's language: the one stored with their account, else the one
// of the page that caused it, else DEFAULT_LOCALE.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nodemailer, { type SendMailOptions } from "nodemailer";
import type { Translate } from "../i18n/catalogue.ts";
import type { Logger } from "../logger.ts";
import type { MailValue, MessageKind, Templates } from "./templates.ts";

export type Mailer = {
  /**
   * Queues a message; failures are retried, then logged. Never throws.
   * `locale`: the language of the page that caused it, used when the
   * recipient has none stored.
   */
  post(
    kind: MessageKind,
    to: string,
    values: { email: string } & Record<string, MailValue>,
    locale?: string,
  ): void;
  /** Resolves once every message posted so far was delivered or given up. */
  idle(): Promise<void>;
  close(): void;
};

/** Seconds to wait before each retry. */
const RETRY_DELAYS = [2, 10];

type SendOutcome = "sent" | "outbox" | "failed";

/** The settings the mailer reads (SMTP_*, OUTBOX_DIR, SITE_NAME), by their configuration names. */
export type MailSettings = {
  smtp_url?: string | undefined;
  smtp_require_tls: boolean;
  smtp_tls_reject_unauthorized: boolean;
  smtp_from: string;
  outbox_dir: string;
  site_name: string;
};

/** The languages a message can be in (i18n/languages.ts), and how to find a recipient's own. */
export type MailLanguages = {
  /** The available language for a tag (or the default for none or an unknown one). */
  pick(choice: string | undefined, acceptLanguage: string | undefined): string;
  t(locale: string): Translate;
  /** The language stored with the account of this address, if any. */
  storedLocale?: (email: string) => Promise<string | null | undefined>;
};

export function createMailer(options: {
  settings: MailSettings;
  templates: Templates;
  languages: MailLanguages;
  logger: Logger;
  onResult?: (kind: MessageKind, outcome: SendOutcome) => void;
}): Mailer {
  const { settings, templates, logger } = options;
  const smtp = settings.smtp_url
    ? nodemailer.createTransport({
        url: settings.smtp_url,
        requireTLS: settings.smtp_require_tls,
        tls: { rejectUnauthorized: settings.smtp_tls_reject_unauthorized },
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      })
    : null;
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const pending = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();

  async function writeToOutbox(kind: MessageKind, message: SendMailOptions) {
    const composed = await composer.sendMail(message);
    mkdirSync(settings.outbox_dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const file = join(
      settings.outbox_dir,
      `${stamp}-${kind}-${randomBytes(3).toString("hex")}.eml`,
    );
    // The message holds a live token: readable by this user only.
    writeFileSync(file, composed.message as Buffer, { mode: 0o600 });
    logger.info(
      { kind, to: message.to, subject: message.subject, file, text: message.text },
      "email written to the outbox (SMTP_URL is not set)",
    );
  }

  const wait = (seconds: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, seconds * 1000);
      timers.add(timer);
    });

  async function deliver(kind: MessageKind, message: SendMailOptions): Promise<void> {
    if (!smtp) {
      try {
        await writeToOutbox(kind, message);
        options.onResult?.(kind, "outbox");
      } catch (error) {
        options.onResult?.(kind, "failed");
        logger.error({ err: error, kind }, "email could not be written to the outbox");
      }
      return;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await smtp.sendMail(message);
        options.onResult?.(kind, "sent");
        logger.debug({ kind, to: message.to }, "email sent");
        return;
      } catch (error) {
        const delay = RETRY_DELAYS[attempt];
        if (delay === undefined) {
          options.onResult?.(kind, "failed");
          logger.error({ err: error, kind }, "email could not be sent; giving up");
          return;
        }
        logger.warn({ err: error, kind, retryIn: delay }, "email could not be sent; will retry");
        await wait(delay);
      }
    }
  }

  const { languages } = options;
  async function recipientLocale(to: string, asked: string | undefined): Promise<string> {
    let stored: string | null | undefined;
    try {
      stored = await languages.storedLocale?.(to);
    } catch (error) {
      logger.warn({ err: error }, "the recipient's language could not be read; using the page's");
    }
    return languages.pick(stored ?? asked, undefined);
  }

  async function compose(
    kind: MessageKind,
    to: string,
    values: Record<string, MailValue>,
    asked: string | undefined,
  ): Promise<SendMailOptions> {
    const locale = await recipientLocale(to, asked);
    const t = languages.t(locale);
    const resolved: Record<string, string> = {};
    for (const [name, value] of Object.entries(values))
      resolved[name] = typeof value === "function" ? value(t) : value;
    const rendered = templates.render(
      kind,
      { ...resolved, email: resolved.email ?? to, siteName: settings.site_name },
      locale,
      t,
    );
    return { from: settings.smtp_from, to, ...rendered };
  }

  return {
    post(kind, to, values, locale) {
      const job = compose(kind, to, values, locale)
        .then((message) => deliver(kind, message))
        .catch((error) => {
          options.onResult?.(kind, "failed");
          logger.error({ err: error, kind }, "email could not be composed");
        })
        .finally(() => pending.delete(job));
      pending.add(job);
    },
    async idle() {
      while (pending.size > 0) await Promise.all(pending);
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      smtp?.close();
    },
  };
}
