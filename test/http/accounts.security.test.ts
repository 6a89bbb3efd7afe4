import assert from "node:assert/strict";
import { test } from "node:test";
import { count, eq } from "drizzle-orm";
import { sessions, users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  bodyOf,
  GOOD_PASSWORD,
  login,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** The body without its per-request id, for comparing two answers. */
async function shape(response: Response) {
  const body = await bodyOf(response);
  if (body.error) body.error.requestId = "-";
  return { status: response.status, body };
}

/** Medians of two requests' times, sampled in turns, so a burst of load elsewhere on the machine falls on both. */
async function interleavedMedians(
  times: number,
  first: () => Promise<unknown>,
  second: () => Promise<unknown>,
): Promise<[number, number]> {
  const samples: [number[], number[]] = [[], []];
  const time = async (run: () => Promise<unknown>) => {
    const start = performance.now();
    await run();
    return performance.now() - start;
  };
  for (let i = 0; i < times; i++) {
    samples[0].push(await time(first));
    samples[1].push(await time(second));
  }
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(times / 2)] as number;
  return [median(samples[0]), median(samples[1])];
}

describeOnEachBackend("accounts security", { LOGIN_MAX_FAILURES_PER_IP: "1000" }, (stack) => {
  test("unknown email and wrong password look the same, in status, body and time", async () => {
    const email = uniqueEmail();
    await register(stack.server.url, email);
    const unknown = await shape(
      await login(stack.server.url, uniqueEmail("nobody"), "some wrong password"),
    );
    const wrong = await shape(await login(stack.server.url, email, "some wrong password"));
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown, wrong);
    // Without the dummy hash an unknown address would answer ~40x faster; allow wide noise.
    const [unknownMs, wrongMs] = await interleavedMedians(
      5,
      () => login(stack.server.url, uniqueEmail("nobody"), "x"),
      () => login(stack.server.url, email, "x"),
    );
    assert.ok(
      unknownMs > wrongMs / 3,
      `unknown ${unknownMs.toFixed(1)} ms vs wrong ${wrongMs.toFixed(1)} ms`,
    );
  });

  test("registering an existing address answers like a new one and changes nothing", async () => {
    const email = uniqueEmail();
    const first = await fetch(
      `${stack.server.url}/auth/register`,
      json({ email, password: GOOD_PASSWORD }),
    );
    const again = await fetch(
      `${stack.server.url}/auth/register`,
      json({ email: email.toUpperCase(), password: "another long passphrase" }),
    );
    assert.equal(first.status, 201);
    assert.deepEqual(await bodyOf(again), await bodyOf(first));
    assert.equal(again.headers.get("set-cookie"), null, "no session for someone else's address");
    assert.equal((await login(stack.server.url, email, "another long passphrase")).status, 401);
    assert.equal((await login(stack.server.url, email)).status, 200);
  });

  test("emails are canonicalised before storage and lookup", async () => {
    const local = `Mixed.${crypto.randomUUID().slice(0, 8)}`;
    await register(stack.server.url, `  ${local}@ＥＸＡＭＰＬＥ.test `);
    const response = await login(stack.server.url, `${local.toLowerCase()}@example.test`);
    assert.equal(response.status, 200);
    assert.equal((await bodyOf(response)).user.email, `${local.toLowerCase()}@example.test`);
  });

  test("failed logins are limited per account, known or not, with Retry-After", async () => {
    const limited = await startGatehouse(stack.database, {
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
      LOGIN_MAX_FAILURES_PER_IP: "1000",
    });
    try {
      for (const email of [uniqueEmail("known"), uniqueEmail("unknown")]) {
        if (email.startsWith("known")) await register(limited.url, email);
        for (let i = 0; i < 3; i++)
          assert.equal((await login(limited.url, email, "wrong password!")).status, 401);
        const blocked = await login(limited.url, email);
        assert.equal(blocked.status, 429, email);
        assert.ok(Number(blocked.headers.get("retry-after")) > 0);
      }
    } finally {
      await limited.stop();
    }
  });

  test("a hashing storm is refused at once with 503 and Retry-After, never queued without bound", async () => {
    const tight = await startGatehouse(stack.database, {
      PASSWORD_HASH_CONCURRENCY: "1",
      PASSWORD_HASH_QUEUE: "0",
      LOGIN_MAX_FAILURES_PER_IP: "1000",
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => login(tight.url, uniqueEmail("storm"), "wrong password!")),
      );
      const statuses = results.map((r) => r.status);
      assert.ok(statuses.includes(503), statuses.join(","));
      assert.ok(
        statuses.every((s) => s === 401 || s === 503),
        statuses.join(","),
      );
      const refused = results.find((r) => r.status === 503);
      assert.equal(refused?.headers.get("retry-after"), "1");
      assert.equal((await bodyOf(refused)).error.code, "overloaded");
    } finally {
      await tight.stop();
    }
  });

  test("cross-site state changes are refused before anything happens", async () => {
    const email = uniqueEmail();
    const cookie = await register(stack.server.url, email);
    const attempts: [string, Record<string, string>][] = [
      ["/auth/logout", { origin: "https://evil.example", cookie }],
      ["/auth/logout", { "sec-fetch-site": "cross-site", cookie }],
      ["/auth/login", { origin: "null" }],
      ["/auth/register", { origin: "https://evil.example" }],
    ];
    for (const [path, headers] of attempts) {
      const response = await fetch(
        `${stack.server.url}${path}`,
        json({ email: uniqueEmail(), password: GOOD_PASSWORD }, headers),
      );
      assert.equal(response.status, 403, path);
      assert.equal((await bodyOf(response)).error.code, "cross_site_request");
    }
    const [user] = await stack.database.db.select().from(users).where(eq(users.email, email));
    const [left] = await stack.database.db
      .select({ n: count() })
      .from(sessions)
      .where(eq(sessions.userId, user?.id ?? ""));
    assert.equal(left?.n, 1, "the session survived the cross-site logout");
  });

  test("the login page's form posts return the browser to a validated rd", async () => {
    const email = uniqueEmail();
    await register(stack.server.url, email);
    const form = (rd: string) =>
      fetch(`${stack.server.url}/auth/login?rd=${encodeURIComponent(rd)}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: stack.server.url },
        body: new URLSearchParams({ email, password: GOOD_PASSWORD }),
        redirect: "manual",
      });
    const good = await form(`${stack.server.url}/private/page?x=1`);
    assert.equal(good.status, 303);
    assert.equal(good.headers.get("location"), `${stack.server.url}/private/page?x=1`);
    assert.ok(sessionCookie(good));
    const evil = await form("https://evil.example/steal");
    assert.equal(evil.headers.get("location"), `${stack.server.url}/auth/account`);

    const page = await fetch(
      `${stack.server.url}/auth/login?rd=${encodeURIComponent(`${stack.server.url}/p`)}`,
    );
    const html = await page.text();
    assert.match(html, /<form method="post"/);
    assert.match(html, /<label for="email">/);
    const wrong = await fetch(`${stack.server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email, password: "not the password" }),
    });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /role="alert"[^>]*>Invalid email or password/);
  });

  test("hostile text in forms is escaped in the pages", async () => {
    const response = await fetch(`${stack.server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: '"><script>alert(1)</script>', password: "x" }),
    });
    assert.equal(response.status, 400);
    const html = await response.text();
    assert.ok(!html.includes("<script>alert(1)"));
    assert.match(html, /&lt;script&gt;/);
  });
});
