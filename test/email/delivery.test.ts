// How mail leaves gatehouse: the outbox when no SMTP server is configured,
// retries when the server refuses for a while, overridden templates, and the
// registration mode that answers alike for new and existing addresses.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { simpleParser } from "mailparser";
import { ConfigError } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { loadTemplates } from "../../src/mail/templates.ts";
import { bodyOf, login, register, startGatehouse, uniqueEmail } from "../helpers/gatehouse.ts";
import { linkTo, startSmtp } from "../helpers/smtp.ts";

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function eventually<T>(read: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("mail delivery", () => {
  let database: DatabaseHandle;
  const smtp = { current: undefined as Awaited<ReturnType<typeof startSmtp>> | undefined };
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    smtp.current = await startSmtp();
  });
  after(async () => {
    await smtp.current?.stop();
    await database?.close();
  });

  test("without SMTP, messages land in the outbox as .eml files only the owner can read, and their links work", async () => {
    const outbox = mkdtempSync(join(tmpdir(), "gatehouse-outbox-test-"));
    const server = await startGatehouse(database, { OUTBOX_DIR: outbox });
    try {
      const email = uniqueEmail("outbox");
      await register(server.url, email);
      const file = await eventually(() =>
        readdirSync(outbox).find((name) => name.endsWith(".eml")),
      );
      assert.match(file, /verify-email/);
      assert.equal(statSync(join(outbox, file)).mode & 0o777, 0o600);
      const mail = await simpleParser(readFileSync(join(outbox, file)));
      assert.equal(mail.subject, "Confirm your email address for gatehouse");
      const text = mail.text ?? "";
      const link = linkTo({ text } as never, "/auth/verify-email");
      assert.equal((await fetch(link)).status, 200);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_email_total\{kind="verify-email",outcome="outbox"\} 1/);
    } finally {
      await server.stop();
    }
  });

  test("a message the SMTP server refuses for a while is retried and arrives", async () => {
    const mailServer = smtp.current as NonNullable<typeof smtp.current>;
    const server = await startGatehouse(database, { SMTP_URL: mailServer.url });
    try {
      mailServer.refuse(true);
      const email = uniqueEmail("retry");
      await register(server.url, email);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(mailServer.waiting(email).length, 0);
      mailServer.refuse(false);
      const mail = await mailServer.next(email, 8000);
      assert.equal((await fetch(linkTo(mail, "/auth/verify-email"))).status, 200);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_email_total\{kind="verify-email",outcome="sent"\} 1/);
    } finally {
      mailServer.refuse(false);
      await server.stop();
    }
  });

  test("templates from EMAIL_TEMPLATES_DIR replace the built-in parts they name; values are escaped in HTML only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-templates-"));
    writeFileSync(join(dir, "verify-email.subject"), "Welcome to {{siteName}}, {{email}}\n");
    writeFileSync(
      join(dir, "verify-email.html"),
      `<p>{{siteName}}</p><a href="{{link}}">confirm</a>`,
    );
    const mailServer = smtp.current as NonNullable<typeof smtp.current>;
    const server = await startGatehouse(database, {
      SMTP_URL: mailServer.url,
      EMAIL_TEMPLATES_DIR: dir,
      SITE_NAME: "Tom & Jerry",
    });
    try {
      const email = uniqueEmail("templates");
      await register(server.url, email);
      const mail = await mailServer.next(email);
      assert.equal(mail.subject, `Welcome to Tom & Jerry, ${email}`);
      assert.match(mail.html, /<p>Tom &amp; Jerry<\/p><a href="http/);
      assert.match(mail.text, /please confirm that/, "the text part stays built in");
      assert.equal((await fetch(linkTo(mail, "/auth/verify-email"))).status, 200);
    } finally {
      await server.stop();
    }

    writeFileSync(join(dir, "reset-password.txt"), "{{#link}} never closed");
    assert.throws(
      () => loadTemplates(dir),
      (error) => error instanceof ConfigError && /reset-password\.txt/.test(error.message),
    );
  });

  test("with REGISTRATION_SIGN_IN=false, a new and an existing address get the same answer; each gets its own message", async () => {
    const mailServer = smtp.current as NonNullable<typeof smtp.current>;
    const open = await startGatehouse(database, { SMTP_URL: mailServer.url });
    const quiet = await startGatehouse(database, {
      SMTP_URL: mailServer.url,
      REGISTRATION_SIGN_IN: "false",
    });
    try {
      const existing = uniqueEmail("existing");
      await register(open.url, existing);
      await mailServer.next(existing);
      const fresh = uniqueEmail("fresh");
      const answers = [];
      for (const email of [existing, fresh]) {
        const response = await fetch(
          `${quiet.url}/auth/register`,
          json({ email, password: "yet another uncommon passphrase 9" }),
        );
        answers.push({
          status: response.status,
          cookies: response.headers.getSetCookie(),
          body: await bodyOf(response),
        });
      }
      assert.deepEqual(answers[0], answers[1]);
      assert.deepEqual(answers[0]?.cookies, []);
      assert.equal((await mailServer.next(existing)).subject, "Your gatehouse account");
      assert.equal(
        (await mailServer.next(fresh)).subject,
        "Confirm your email address for gatehouse",
      );
      assert.equal(
        (await login(quiet.url, fresh, "yet another uncommon passphrase 9")).status,
        200,
      );
    } finally {
      await Promise.all([open.stop(), quiet.stop()]);
    }
  });
});
