// The audit trail: sign-in success and failure, API keys and sign-outs are
// recorded with subject, actor, client address, user agent and outcome
// (never the password); a user sees their own recent events on the account
// page; AUDIT_LOG copies each event to the structured log; retention deletes
// older events; `audit export` writes JSON lines. On both databases.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { pino } from "pino";
import type { AuditRecord } from "../../src/accounts/audit.ts";
import { commandServices } from "../../src/cli/admin-channel.ts";
import { execute } from "../../src/cli/commands.ts";
import { auditEvents, users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { GOOD_PASSWORD, login, markVerified, register, uniqueEmail } from "../helpers/gatehouse.ts";
import { postJson } from "../helpers/http.ts";

const logLines: string[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);

const UA = "AuditTest/1.0 (the browser of the test)";

describeOnEachBackend(
  "audit trail",
  { AUDIT_LOG: "true", TRUSTED_PROXIES: "127.0.0.1/32" },
  (stack) => {
    const base = () => stack.server.url;
    const idOf = async (email: string) => {
      const [row] = await stack.database.db
        .select({ id: users.id })
        .from(users)
        .where(eq(users.email, email));
      return row?.id as string;
    };
    /** The user's events, once the background writes have landed. */
    async function eventsOf(userId: string, count: number): Promise<AuditRecord[]> {
      for (let i = 0; i < 50; i++) {
        const events = await stack.server.gatehouse.audits.list({ userId, limit: 100 });
        if (events.length >= count) return events;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return stack.server.gatehouse.audits.list({ userId, limit: 100 });
    }

    test("sign-in success and failure: subject, actor, address, user agent, outcome; no password", async () => {
      const email = uniqueEmail();
      await register(base(), email);
      const headers = { "user-agent": UA, "x-forwarded-for": "203.0.113.9" };
      const wrong = await fetch(`${base()}/auth/login`, {
        ...postJson({ email, password: "not the password at all 1" }),
        headers: { "content-type": "application/json", ...headers },
      });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${base()}/auth/login`, {
        ...postJson({ email, password: GOOD_PASSWORD }),
        headers: { "content-type": "application/json", ...headers },
      });
      assert.equal(right.status, 200);
      const id = await idOf(email);
      const events = await eventsOf(id, 3);
      const failed = events.find((event) => event.type === "user.login_failed");
      const login = events.find(
        (event) => event.type === "user.login" && event.ip === "203.0.113.9",
      );
      assert.ok(failed && login, JSON.stringify(events));
      assert.equal(failed.outcome, "failure");
      assert.equal(login.outcome, "success");
      for (const event of [failed, login]) {
        assert.equal(event.userId, id);
        assert.equal(event.actorId, id);
        assert.equal(event.ip, "203.0.113.9");
        assert.equal(event.userAgent, UA);
      }
      const everything = JSON.stringify(events) + logLines.join("");
      assert.ok(
        !everything.includes("not the password at all"),
        "a password never reaches the trail",
      );
      assert.ok(!everything.includes(GOOD_PASSWORD));
      // AUDIT_LOG: the same event in the structured log.
      const copied = logLines
        .map((line) => JSON.parse(line) as { audit?: { type: string; userId: string; ip: string } })
        .filter((line) => line.audit?.userId === id && line.audit.type === "user.login_failed");
      assert.equal(copied[0]?.audit?.ip, "203.0.113.9");
    });

    test("API keys created and revoked: each recorded", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      await markVerified(stack.server, email);
      const created = await fetch(`${base()}/auth/api-keys`, postJson({ name: "ci" }, cookie));
      assert.equal(created.status, 201);
      const { apiKey } = (await created.json()) as { apiKey: { id: string } };
      const revoked = await fetch(`${base()}/auth/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { cookie },
      });
      assert.equal(revoked.status, 200);
      const id = await idOf(email);
      const types = (await eventsOf(id, 3)).map((event) => event.type);
      assert.ok(
        types.includes("api_key.created") && types.includes("api_key.revoked"),
        types.join(),
      );
    });

    test("the account page shows the user's own recent events, and nobody else's", async () => {
      const mine = uniqueEmail();
      const theirs = uniqueEmail();
      const cookie = await register(base(), mine);
      await register(base(), theirs);
      assert.equal((await login(base(), mine, "a wrong password for sure 9")).status, 401);
      assert.equal((await login(base(), theirs, "a wrong password for sure 9")).status, 401);
      await eventsOf(await idOf(mine), 2);
      const page = await (await fetch(`${base()}/auth/account`, { headers: { cookie } })).text();
      assert.match(page, /Recent security events/);
      assert.match(page, /Sign-in failed/);
      assert.match(page, /Account created/);
      const theirId = await idOf(theirs);
      await eventsOf(theirId, 2);
      assert.ok(!page.includes(theirId.slice(0, 12)));
    });

    test("retention deletes events older than the cut-off, and only those", async () => {
      const { db } = stack.database;
      const subject = `retention-${crypto.randomUUID()}`;
      const day = 86_400_000;
      await db.insert(auditEvents).values([
        { type: "user.login", userId: subject, at: new Date(Date.now() - 400 * day) },
        { type: "user.login", userId: subject, at: new Date(Date.now() - 10 * day) },
      ]);
      const deleted = await stack.server.gatehouse.audits.deleteOlderThan(
        new Date(Date.now() - 365 * day),
        1,
      );
      assert.ok(deleted >= 1);
      const left = await stack.server.gatehouse.audits.list({ userId: subject, limit: 10 });
      assert.equal(left.length, 1);
      assert.ok(Date.parse(left[0]?.at as string) > Date.now() - 11 * day);
    });

    test("audit export --since: JSON lines, oldest first, within the window, filtered by user", async () => {
      const email = uniqueEmail();
      await register(base(), email);
      assert.equal((await login(base(), email)).status, 200);
      const id = await idOf(email);
      await eventsOf(id, 2);
      await stack.database.db
        .insert(auditEvents)
        .values({ type: "user.login", userId: id, at: new Date(Date.now() - 3 * 86_400_000) });
      const lines: string[] = [];
      const errors: string[] = [];
      const services = commandServices(stack.server.gatehouse);
      await execute(["audit", "export", "--since", "24h", "--email", email], services, {
        print: (line) => lines.push(line),
        printError: (line) => errors.push(line),
      });
      const events = lines.map((line) => JSON.parse(line) as AuditRecord);
      assert.deepEqual(
        events.map((event) => event.type),
        ["user.registered", "user.login", "user.login"].slice(0, events.length),
      );
      assert.ok(events.length >= 2);
      assert.ok(events.every((event) => event.userId === id));
      assert.ok(events.every((event) => Date.parse(event.at) > Date.now() - 86_400_000));
      await assert.rejects(
        execute(["audit", "export", "--since", "yesterday"], services, {
          print: () => {},
          printError: () => {},
        }),
        /--since must be a duration/,
      );
    });
  },
  { logger },
);
