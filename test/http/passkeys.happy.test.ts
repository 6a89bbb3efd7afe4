// Passkeys' edges that are not a ceremony's bytes: the relying party as
// derived and as configured, passkeys switched off where browsers refuse
// them, the script and the CSP that allows it, the forms that work without
// JavaScript, the step-up proof another account's passkey cannot give, a
// disabled account, and the per-address limit on ceremonies.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { runCommand } from "../../src/cli/commands.ts";
import { ConfigError, configWarnings, loadConfig } from "../../src/config.ts";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { openDatabase } from "../../src/db/client.ts";
import { auditEvents, users, webauthnCredentials } from "../../src/db/schema.ts";
import { createPostgresDatabase, describeOnEachBackend } from "../helpers/backends.ts";
import {
  bodyOf,
  markVerified,
  login as passwordLogin,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm, postJson } from "../helpers/http.ts";
import { createSoftAuthenticator } from "../helpers/soft-authenticator.ts";

const ORIGIN = "http://localhost:4444";
const env = { WEBAUTHN_RP_ID: "localhost", WEBAUTHN_ORIGINS: ORIGIN };
const authenticator = createSoftAuthenticator("localhost", ORIGIN);

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
    return "";
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
}

test("the relying party derives from PUBLIC_URL, or COOKIE_DOMAIN when sessions span subdomains", () => {
  const plain = loadConfig({ PUBLIC_URL: "https://auth.example.com" }).webauthn;
  assert.deepEqual(plain, {
    id: "auth.example.com",
    name: "gatehouse",
    origins: ["https://auth.example.com"],
  });
  const shared = loadConfig({
    PUBLIC_URL: "https://auth.example.com",
    COOKIE_DOMAIN: ".Example.com",
    SITE_NAME: "Example",
  }).webauthn;
  assert.deepEqual(shared, {
    id: "example.com",
    name: "Example",
    origins: ["https://auth.example.com"],
  });
  const set = loadConfig({
    PUBLIC_URL: "https://auth.example.com",
    WEBAUTHN_RP_ID: "example.com",
    WEBAUTHN_RP_NAME: "Example Corp",
    WEBAUTHN_ORIGINS: "https://auth.example.com,https://login.example.com",
  }).webauthn;
  assert.deepEqual(set?.origins, ["https://auth.example.com", "https://login.example.com"]);
  assert.equal(set?.name, "Example Corp");
  // The default, http://localhost:PORT, works in every browser.
  assert.equal(loadConfig({}).webauthn?.id, "localhost");
});

test("passkey settings that cannot work stop startup, naming the setting", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { PUBLIC_URL: "https://auth.example.com", WEBAUTHN_RP_ID: "other.com" },
      /WEBAUTHN_ORIGINS: https:\/\/auth\.example\.com is not on the relying-party id "other\.com"/,
    ],
    [{ PUBLIC_URL: "https://auth.example.com", WEBAUTHN_RP_ID: "com" }, /top-level domain/],
    [{ PUBLIC_URL: "https://auth.example.com", WEBAUTHN_RP_ID: "10.0.0.1" }, /not an IP address/],
    [
      { PUBLIC_URL: "https://auth.example.com", WEBAUTHN_ORIGINS: "http://auth.example.com" },
      /only on https/,
    ],
    [
      {
        PUBLIC_URL: "https://auth.example.com",
        WEBAUTHN_ORIGINS: "https://auth.example.com/login",
      },
      /origin only/,
    ],
    [{ PUBLIC_URL: "https://auth.example.com", WEBAUTHN_ORIGINS: "not a url" }, /not a URL/],
    [{ PUBLIC_URL: "https://auth.example.com", WEBAUTHN_RP_ID: "exa mple.com" }, /not a domain/],
  ];
  for (const [settings, pattern] of cases)
    assert.match(problems(settings), pattern, JSON.stringify(settings));
});

test("derived settings browsers would refuse turn passkeys off with a warning, not a failed start", () => {
  for (const url of ["http://127.0.0.1:4180", "http://auth.internal:4180", "https://[::1]:8443"]) {
    const config = loadConfig({ PUBLIC_URL: url });
    assert.equal(config.webauthn, null, url);
    assert.ok(
      configWarnings(config).some((warning) => /^passkeys are off/.test(warning)),
      url,
    );
  }
  assert.deepEqual(configWarnings(loadConfig({ PUBLIC_URL: "https://auth.example.com" })), []);
});

describe("passkeys off (PUBLIC_URL on an IP address)", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database);
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("no passkey controls, no script, and 404 with the reason", async () => {
    const login = await fetch(`${server.url}/auth/login`);
    const page = await login.text();
    assert.doesNotMatch(page, /Sign in with a passkey|<script/);
    // The only script the CSP allows is the one that shows times in the visitor's zone.
    assert.match(
      login.headers.get("content-security-policy") ?? "",
      /script-src [^ ;]+\/auth\/local-time\.js;/,
    );
    // That script fetches nothing: no connect-src (the passkey script's) opens up.
    assert.doesNotMatch(login.headers.get("content-security-policy") ?? "", /connect-src/);
    const options = await fetch(`${server.url}/auth/passkeys/login/options`, postJson({}));
    assert.equal(options.status, 404);
    assert.match((await bodyOf(options)).error.message, /Passkeys are not available here/);
  });
});

describeOnEachBackend("passkeys: pages, script, step-up", env, (stack) => {
  const url = (path: string) => `${stack.server.url}/auth${path}`;

  async function enrolled() {
    const email = uniqueEmail("passkey-page");
    const session = await register(stack.server.url, email);
    await markVerified(stack.server, email);
    const options = await fetch(url("/passkeys/register/options"), postJson({}, session));
    const body = await bodyOf(options);
    const cookie = (options.headers.getSetCookie()[0] ?? "").split(";")[0];
    const made = authenticator.register(body.options);
    const created = await fetch(
      url("/passkeys/register"),
      postJson({ name: "Laptop", response: made.response }, `${session}; ${cookie}`),
    );
    assert.equal(created.status, 201);
    const [user] = await stack.database.db.select().from(users).where(eq(users.email, email));
    return {
      email,
      session,
      passkey: made.passkey,
      userId: (user as { id: string }).id,
      id: (await bodyOf(created)).passkey.id as string,
    };
  }

  test("the login page offers passkeys; its CSP allows exactly the script, which is cached for good", async () => {
    const login = await fetch(url("/login"));
    const page = await login.text();
    assert.match(page, /autocomplete="username webauthn"/);
    assert.match(page, /Sign in with a passkey/);
    const src = /<script src="([^"]+)" defer><\/script>/.exec(page)?.[1];
    assert.ok(src, "the page loads the passkey script");
    assert.doesNotMatch(page, /<script>/, "nothing inline");
    const csp = login.headers.get("content-security-policy") ?? "";
    // The passkey script and the local-time one, each by its exact URL, and nothing else.
    assert.match(
      csp,
      new RegExp(`script-src ${ORIGIN}/auth/passkeys/script\\.js( [^ ;']+/auth/local-time\\.js)+;`),
    );
    assert.ok(csp.includes(`${ORIGIN}/auth/local-time.js`), csp);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /default-src 'none'/);
    const script = await fetch(`${stack.server.url}${src}`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(await script.text(), /navigator\.credentials/);
    const stale = await fetch(url("/passkeys/script.js?v=old"));
    assert.equal(stale.headers.get("cache-control"), "public, max-age=300");
  });

  test("the account page lists passkeys; rename and remove work as plain forms", async () => {
    const who = await enrolled();
    const account = await (
      await fetch(url("/account"), { headers: { cookie: who.session } })
    ).text();
    assert.match(account, /<h2 id="passkeys-heading">Passkeys<\/h2>/);
    assert.match(account, /value="Laptop"/);
    const renamed = await fetch(
      url(`/passkeys/${who.id}/rename`),
      postForm({ name: "Desk key" }, who.session),
    );
    assert.equal(renamed.status, 200);
    assert.match(await renamed.text(), /The passkey is now called “Desk key”/);
    const empty = await fetch(
      url(`/passkeys/${who.id}/rename`),
      postForm({ name: "  " }, who.session),
    );
    assert.equal(empty.status, 400);
    assert.match(await empty.text(), /A passkey needs a name of 1 to 64 characters/);
    const removed = await fetch(url(`/passkeys/${who.id}/remove`), postForm({}, who.session));
    assert.equal(removed.status, 200);
    assert.match(await removed.text(), /The passkey was removed/);
    const left = await stack.database.db
      .select()
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, who.userId));
    assert.equal(left.length, 0);
  });

  test("a failed passkey sign-in from the login page gets the page back with the message", async () => {
    const response = await fetch(url("/passkeys/login?rd=/x"), postForm({ response: "{}" }));
    assert.equal(response.status, 400);
    const page = await response.text();
    assert.match(page, /role="alert"/);
    assert.match(page, /The passkey answer is malformed/);
  });

  // step-up: what the step-up page will call on an existing session.
  test("step-up proves one of the account's own passkeys, on the session that asked", async () => {
    const passkeys = stack.server.gatehouse.passkeys;
    assert.ok(passkeys);
    const alice = await enrolled();
    const bob = await enrolled();
    const meta = { ip: "127.0.0.1", userAgent: null };
    const aliceSession = { id: "alice-session", authenticatedAt: new Date() };
    const made = await passkeys.stepUpOptions(alice.userId, aliceSession, meta);
    assert.equal(made.options.allowCredentials?.length, 1);
    const proof = authenticator.assert(alice.passkey, made.options.challenge);
    const proved = await passkeys.verifyForUser(alice.userId, proof, {
      handle: made.handle,
      session: aliceSession,
      meta,
    });
    assert.equal(proved.id, alice.id);

    // Bob's passkey offered for Alice's step-up.
    const again = await passkeys.stepUpOptions(alice.userId, aliceSession, meta);
    await assert.rejects(
      passkeys.verifyForUser(
        alice.userId,
        authenticator.assert(bob.passkey, again.options.challenge),
        { handle: again.handle, session: aliceSession, meta },
      ),
      /not one of this account's/,
    );
    // Alice's options answered from another session.
    const third = await passkeys.stepUpOptions(alice.userId, aliceSession, meta);
    await assert.rejects(
      passkeys.verifyForUser(
        alice.userId,
        authenticator.assert(alice.passkey, third.options.challenge),
        { handle: third.handle, session: { id: "other", authenticatedAt: new Date() }, meta },
      ),
      /expired or was already used/,
    );
  });

  test("a disabled account cannot sign in with its passkey", async () => {
    const who = await enrolled();
    await stack.server.gatehouse.users.disable(who.userId);
    const options = await fetch(url("/passkeys/login/options"), postJson({}));
    const body = await bodyOf(options);
    const cookie = (options.headers.getSetCookie()[0] ?? "").split(";")[0];
    const response = await fetch(
      url("/passkeys/login"),
      postJson({ response: authenticator.assert(who.passkey, body.options.challenge) }, cookie),
    );
    assert.equal(response.status, 403);
    assert.equal((await bodyOf(response)).error.code, "account_disabled");
  });
});

describe("passkey ceremonies are limited per address", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, env);
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("past 120 a minute: 429 with Retry-After, and no more challenges stored", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) {
      const response = await fetch(`${server.url}/auth/passkeys/login/options`, postJson({}));
      statuses.push(response.status);
      if (response.status === 429) assert.ok(Number(response.headers.get("retry-after")) > 0);
      await response.body?.cancel();
    }
    assert.equal(statuses.filter((status) => status === 200).length, 120);
    assert.equal(statuses.filter((status) => status === 429).length, 5);
  });
});

describe("the operator CLI lists and resets a user's passkeys", () => {
  let url: string;
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  before(async () => {
    url = await createPostgresDatabase();
    database = await openDatabase({ kind: "postgres", url });
    server = await startGatehouse(database, { ...env, DATABASE_URL: url, SESSION_CACHE_TTL: "0" });
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("reset removes every passkey and ends the sessions they signed in; the password session stays", async () => {
    const auth = (path: string) => `${server.url}/auth${path}`;
    const email = uniqueEmail("passkey-cli");
    const passwordSession = await register(server.url, email);
    await markVerified(server, email);
    const options = await fetch(auth("/passkeys/register/options"), postJson({}, passwordSession));
    const cookie = (options.headers.getSetCookie()[0] ?? "").split(";")[0];
    const made = authenticator.register((await bodyOf(options)).options);
    const created = await fetch(
      auth("/passkeys/register"),
      postJson({ name: "Lost phone", response: made.response }, `${passwordSession}; ${cookie}`),
    );
    assert.equal(created.status, 201);
    const login = await fetch(auth("/passkeys/login/options"), postJson({}));
    const loginCookie = (login.headers.getSetCookie()[0] ?? "").split(";")[0];
    const signedIn = await fetch(
      auth("/passkeys/login"),
      postJson(
        { response: authenticator.assert(made.passkey, (await bodyOf(login)).options.challenge) },
        loginCookie,
      ),
    );
    assert.equal(signedIn.status, 200);
    const passkeySession = (
      signedIn.headers.getSetCookie().find((c) => /session=/.test(c)) ?? ""
    ).split(";")[0] as string;

    const out: string[] = [];
    const cli = (...args: string[]) =>
      runCommand(
        args,
        { ...process.env, LOG_LEVEL: "silent", DATABASE_URL: url },
        {
          print: (line) => out.push(line),
          printError: (line) => out.push(line),
        },
      );
    assert.equal(await cli("passkeys", "list", "--email", email), 0);
    assert.match(out.join("\n"), /Lost phone {2}one device/);
    // A password sign-in waits for the passkey (half signed in) when the reset comes.
    const waiting = await passwordLogin(server.url, email);
    assert.equal((await bodyOf(waiting)).status, "mfa_required");
    const halfCookie = (waiting.headers.getSetCookie()[0] ?? "").split(";")[0] as string;
    assert.equal(await cli("passkeys", "reset", "--email", email), 0);
    const stale = await fetch(auth("/mfa/passkey/options"), postJson({}, halfCookie));
    assert.equal(stale.status, 401, "the half sign-in went with the passkeys");
    assert.equal((await bodyOf(await passwordLogin(server.url, email))).status, undefined);
    assert.match(out.at(-1) ?? "", /1 passkey removed, 1 passkey session ended/);
    assert.equal(await cli("passkeys", "reset", "--email", "nobody@example.test"), 2);

    const whoAmI = (session: string) => fetch(auth("/userinfo"), { headers: { cookie: session } });
    assert.equal((await whoAmI(passkeySession)).status, 401);
    assert.equal((await whoAmI(passwordSession)).status, 200);
    const [user] = await database.db.select().from(users).where(eq(users.email, email));
    const left = await database.db
      .select()
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, user?.id ?? ""));
    assert.equal(left.length, 0);
    const events = await database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.userId, user?.id ?? ""));
    assert.ok(
      events.some((event) => event.type === "passkey.removed" && event.detail.by === "operator"),
    );
  });
});
