// What strangers can do to an address's mail, and where links may appear:
// anonymous registrations of a known address cannot use up the owner's reset
// mail, and reset and verification links reach the log only when there is no
// mail server (outbox mode), never beside a configured SMTP_URL.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { register, startGatehouse, uniqueEmail } from "../helpers/gatehouse.ts";
import { linkTo, startSmtp } from "../helpers/smtp.ts";

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** A debug-level logger whose lines a test reads. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("mail budgets and links in the log", () => {
  let database: DatabaseHandle;
  const smtp = { current: undefined as Awaited<ReturnType<typeof startSmtp>> | undefined };
  const mailServer = () => smtp.current as NonNullable<typeof smtp.current>;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    smtp.current = await startSmtp();
  });
  after(async () => {
    await smtp.current?.stop();
    await database?.close();
  });

  test("anonymous registrations of a known address send one notice an hour and never starve its reset mail", async () => {
    const server = await startGatehouse(database, {
      SMTP_URL: mailServer().url,
      SITE_NAME: "Acme Tools",
    });
    try {
      const email = uniqueEmail("owner");
      await register(server.url, email);
      await mailServer().next(email); // the verification message

      for (let i = 0; i < 5; i++) {
        const again = await fetch(
          `${server.url}/auth/register`,
          json({ email, password: `a stranger's passphrase ${i}` }),
        );
        assert.equal(again.status, 201, "answered like a new address");
      }
      const notice = await mailServer().next(email);
      assert.equal(notice.subject, "Your Acme Tools account");
      await sleep(300); // the notices are decided after the answers
      await server.gatehouse.mailer.idle();
      assert.equal(mailServer().waiting(email).length, 0, "one notice, not five");

      // The owner's reset mail still goes out, three times within the hour.
      for (let i = 0; i < 3; i++) {
        const requested = await fetch(`${server.url}/auth/forgot-password`, json({ email }));
        assert.equal(requested.status, 202);
        const reset = await mailServer().next(email);
        assert.equal(reset.subject, "Reset your Acme Tools password");
      }
    } finally {
      await server.stop();
    }
  });

  test("with SMTP_URL, no log line holds a link, not even while the server refuses", async () => {
    const { logger, lines } = capturingLogger();
    const server = await startGatehouse(
      database,
      { SMTP_URL: mailServer().url, LOG_LEVEL: "debug" },
      { logger },
    );
    try {
      const email = uniqueEmail("logged");
      mailServer().refuse(true);
      await register(server.url, email);
      for (let i = 0; i < 100 && !lines.some((line) => line.includes("will retry")); i++)
        await sleep(20);
      mailServer().refuse(false);
      const verify = linkTo(await mailServer().next(email), "/auth/verify-email");
      await fetch(`${server.url}/auth/forgot-password`, json({ email }));
      const reset = linkTo(await mailServer().next(email), "/auth/reset-password");
      await server.gatehouse.mailer.idle();

      assert.ok(
        lines.some((line) => line.includes("will retry")),
        "the refusal was logged",
      );
      assert.ok(
        lines.some((line) => line.includes('"email sent"')),
        "sending was logged",
      );
      for (const token of [verify, reset].map((url) => url.searchParams.get("token") as string))
        assert.ok(!lines.some((line) => line.includes(token)), "no token in any log line");
      assert.ok(!lines.some((line) => /\?token=/.test(line)), "no link in any log line");
    } finally {
      await server.stop();
    }
  });

  test("without SMTP_URL (outbox mode), the link is logged at info so a newcomer can follow it", async () => {
    const { logger, lines } = capturingLogger();
    const outbox = mkdtempSync(join(tmpdir(), "gatehouse-outbox-log-"));
    const server = await startGatehouse(database, { OUTBOX_DIR: outbox }, { logger });
    try {
      await register(server.url, uniqueEmail("outbox"));
      for (let i = 0; i < 250 && !lines.some((line) => line.includes("verify-email?token=")); i++)
        await sleep(20);
      const line = lines.find((text) => text.includes("verify-email?token="));
      assert.ok(line, "the verification link is in the log");
      assert.equal(JSON.parse(line).level, 30, "at info");
    } finally {
      await server.stop();
    }
  });
});
