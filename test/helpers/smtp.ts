// A real SMTP listener on loopback (the smtp-server package), keeping every
// message it receives, parsed by mailparser, for tests to read and follow.
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { freePort } from "./ports.ts";

export type ReceivedMail = {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** The raw message, headers and all. */
  raw: string;
};

export type RunningSmtp = {
  url: string;
  received: ReceivedMail[];
  /** Waits for the next message to `to` that was not taken before; fails after the timeout. */
  next(to: string, timeoutMs?: number): Promise<ReceivedMail>;
  /** Messages to `to` received so far and not taken. */
  waiting(to: string): ReceivedMail[];
  /** Refuse every message with a 451 until `refuse(false)`. */
  refuse(on: boolean): void;
  stop(): Promise<void>;
};

function addresses(parsed: ParsedMail): string {
  const to = parsed.to;
  const list = Array.isArray(to) ? to : to ? [to] : [];
  return list.flatMap((group) => group.value.map((item) => item.address ?? "")).join(",");
}

export async function startSmtp(): Promise<RunningSmtp> {
  const received: ReceivedMail[] = [];
  const taken = new WeakSet<ReceivedMail>();
  let refusing = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", async () => {
        if (refusing) {
          const error = new Error("try again later") as Error & { responseCode: number };
          error.responseCode = 451;
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        const parsed = await simpleParser(raw);
        received.push({
          to: addresses(parsed),
          from: parsed.from?.text ?? "",
          subject: parsed.subject ?? "",
          text: parsed.text ?? "",
          html: typeof parsed.html === "string" ? parsed.html : "",
          raw,
        });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  const waiting = (to: string) => received.filter((mail) => mail.to === to && !taken.has(mail));
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    waiting,
    async next(to, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const mail = waiting(to)[0];
        if (mail) {
          taken.add(mail);
          return mail;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`no message to ${to} within ${timeoutMs} ms`);
    },
    refuse(on) {
      refusing = on;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a message's text that goes to `path` (…/auth/verify-email?token=…). */
export function linkTo(mail: ReceivedMail, path: string): URL {
  for (const match of mail.text.matchAll(/https?:\/\/\S+/g)) {
    const url = new URL(match[0]);
    if (url.pathname.endsWith(path)) return url;
  }
  throw new Error(`no link to ${path} in:\n${mail.text}`);
}
