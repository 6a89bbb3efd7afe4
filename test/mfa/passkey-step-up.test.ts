// Passkeys as a second factor, on both databases, with a software
// authenticator and a manual clock: a password sign-in on an account whose
// only factor is a passkey asks for it (the half sign-in resolves nothing,
// bad answers are 400s that change nothing), the passkey completes it and an
// `mfa: true` rule resolves; a session proves its passkey again for
// max_auth_age, and that proof also opens API key management (one "proof
// within 5 minutes" rule); a proof counts for the sign-in's other sites'
// sessions; an admin console behind MFA_REQUIRED_ROLES asks for the factor,
// and an admin removes a user's passkey (confirmed, audited, mailed).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { auditEvents, sessions, users, webauthnCredentials } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import {
  askResolve,
  bodyOf,
  login,
  markVerified,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm, postJson } from "../helpers/http.ts";
import { startSmtp } from "../helpers/smtp.ts";
import { createSoftAuthenticator, type SoftPasskey } from "../helpers/soft-authenticator.ts";

const ORIGIN = "http://localhost:4444";
const authenticator = createSoftAuthenticator("localhost", ORIGIN);
const MINUTE = 60_000;
const clock = manualClock();
const smtp = await startSmtp();
after(() => smtp.stop());

/** The cookies a response set, as a Cookie header (deleted ones left out). */
function cookiesOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((cookie) => cookie.split(";")[0] as string)
    .filter((pair) => !pair.endsWith("="))
    .join("; ");
}

const join = (...cookies: string[]) => cookies.filter(Boolean).join("; ");

describeOnEachBackend(
  "passkeys as a second factor",
  {
    WEBAUTHN_RP_ID: "localhost",
    WEBAUTHN_ORIGINS: ORIGIN,
    SMTP_URL: smtp.url,
    MFA_REQUIRED_ROLES: "admin",
    RULES: "[{ path: /admin/**, mfa: true }, { path: /both/**, mfa: true, max_auth_age: 15m }]",
  },
  (stack) => {
    const url = (path: string) => `${stack.server.url}/auth${path}`;
    const userId = async (email: string) =>
      (
        (await stack.database.db.select().from(users).where(eq(users.email, email)))[0] as {
          id: string;
        }
      ).id;

    /** Enrols a passkey on a signed-in session (its address confirmed first). */
    async function enrol(email: string, session: string, name = "Laptop") {
      await markVerified(stack.server, email);
      const options = await fetch(url("/passkeys/register/options"), postJson({}, session));
      const made = authenticator.register((await bodyOf(options)).options);
      const created = await fetch(
        url("/passkeys/register"),
        postJson({ name, response: made.response }, join(session, cookiesOf(options))),
      );
      assert.equal(created.status, 201);
      return made.passkey;
    }

    /** A passkey-only account (besides its password), and the session it enrolled from. */
    async function passkeyAccount() {
      const email = uniqueEmail("passkey-mfa");
      const session = await register(stack.server.url, email);
      const passkey = await enrol(email, session);
      return { email, session, passkey, id: await userId(email) };
    }

    /** Options for the step-up, then the answer: the response of /mfa/passkey/verify. */
    async function stepUp(
      who: string,
      passkey: SoftPasskey,
      answer?: (challenge: string) => unknown,
    ) {
      const options = await fetch(url("/mfa/passkey/options"), postJson({}, who));
      assert.equal(options.status, 200);
      const { challenge, allowCredentials } = (await bodyOf(options)).options;
      assert.equal(allowCredentials.length, 1, "only the account's own passkeys are offered");
      const response = answer ? answer(challenge) : authenticator.assert(passkey, challenge);
      return fetch(
        url("/mfa/passkey/verify"),
        postJson({ response }, join(who, cookiesOf(options))),
      );
    }

    test("a password sign-in on a passkey-only account asks for the passkey before the session is full", async () => {
      const alice = await passkeyAccount();
      // Enrolling proved the passkey: the enrolling session meets an mfa rule.
      const enrolled = await askResolve(stack.server.url, "/admin/x", { cookie: alice.session });
      assert.equal(enrolled.status, 200);
      assert.equal(enrolled.headers.get("x-auth-amr"), "pwd,hwk,mfa");

      const first = await login(stack.server.url, alice.email);
      assert.equal(first.status, 200);
      assert.equal((await bodyOf(first)).status, "mfa_required");
      const half = cookiesOf(first);
      assert.doesNotMatch(half, /session=/, "no session before the passkey");
      assert.equal((await askResolve(stack.server.url, "/x", { cookie: half })).status, 401);

      const page = await (await fetch(url("/mfa"), { headers: { cookie: half } })).text();
      assert.match(page, /data-passkey="step-up"/);
      assert.match(page, /Use a passkey/);
      const kinds = await bodyOf(await fetch(url("/mfa/kinds"), { headers: { cookie: half } }));
      assert.deepEqual(kinds, { kinds: ["passkey"], signingIn: true });

      // Bad answers: each a 400 with a message, no session, the counter where it was.
      const counter = async () =>
        (
          await stack.database.db
            .select({ counter: webauthnCredentials.counter })
            .from(webauthnCredentials)
            .where(eq(webauthnCredentials.userId, alice.id))
        )[0]?.counter;
      // A counter that has moved (an authenticator with counters): going back is refused.
      await stack.database.db
        .update(webauthnCredentials)
        .set({ counter: 5 })
        .where(eq(webauthnCredentials.userId, alice.id));
      alice.passkey.counter = 5;
      const before = await counter();
      const bad: [string, (challenge: string) => unknown, RegExp][] = [
        ["malformed", () => ({ id: "x" }), /malformed/],
        ["wrong challenge", () => authenticator.assert(alice.passkey, "AAAA"), /not be verified/],
        [
          "wrong origin",
          (challenge) =>
            authenticator.assert(alice.passkey, challenge, { origin: "https://evil.example" }),
          /not be verified/,
        ],
        [
          "counter backwards",
          (challenge) => authenticator.assert(alice.passkey, challenge, { counter: 3 }),
          /not be verified/,
        ],
      ];
      for (const [label, answer, message] of bad) {
        const refused = await stepUp(half, alice.passkey, answer);
        assert.equal(refused.status, 400, label);
        assert.match((await bodyOf(refused)).error.message, message, label);
        assert.doesNotMatch(cookiesOf(refused), /session=/, label);
      }
      assert.equal(await counter(), before, "nothing stored changed");
      alice.passkey.counter = 5;

      // Another account's passkey cannot stand in.
      const bob = await passkeyAccount();
      const foreign = await stepUp(half, alice.passkey, (challenge) =>
        authenticator.assert(bob.passkey, challenge),
      );
      assert.equal(foreign.status, 400);

      const done = await stepUp(half, alice.passkey);
      assert.equal(done.status, 200);
      assert.deepEqual((await bodyOf(done)).amr, ["hwk", "mfa"]);
      const session = sessionCookie(done);
      const resolved = await askResolve(stack.server.url, "/admin/x", { cookie: session });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-amr"), "pwd,hwk,mfa");
      assert.equal(resolved.headers.get("x-auth-mfa"), "true");
      // The half sign-in worked once.
      const again = await fetch(url("/mfa/passkey/options"), postJson({}, half));
      assert.equal(again.status, 401);

      const events = await stack.database.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.userId, alice.id), eq(auditEvents.type, "mfa.verified")));
      assert.ok(events.some((event) => event.detail.kind === "passkey"));
    });

    test("a passkey account can set up an app beside it; the step-up page then offers both", async () => {
      const alice = await passkeyAccount();
      const setup = await (
        await fetch(url("/mfa/setup"), { headers: { cookie: alice.session } })
      ).text();
      assert.match(setup, /id="totp-secret"/, "the set-up page, not 'already set up'");
      const half = cookiesOf(await login(stack.server.url, alice.email));
      const kinds = await bodyOf(await fetch(url("/mfa/kinds"), { headers: { cookie: half } }));
      assert.deepEqual(kinds.kinds, ["passkey"], "the app is not confirmed yet");
    });

    test("the step-up page's passkey form posts as a plain form and comes back to rd", async () => {
      const alice = await passkeyAccount();
      const half = cookiesOf(await login(stack.server.url, alice.email));
      const options = await fetch(url("/mfa/passkey/options"), postJson({}, half));
      const response = authenticator.assert(
        alice.passkey,
        (await bodyOf(options)).options.challenge,
      );
      const rd = `${stack.server.url}/somewhere`;
      const done = await fetch(
        url(`/mfa/passkey/verify?rd=${encodeURIComponent(rd)}`),
        postForm({ response: JSON.stringify(response) }, join(half, cookiesOf(options))),
      );
      assert.equal(done.status, 303);
      assert.equal(done.headers.get("location"), rd);
      assert.ok(sessionCookie(done));
      // A failed form post gets the step-up page again, with the message.
      const failed = await fetch(url("/mfa/passkey/verify"), postForm({ response: "{}" }, half));
      assert.equal(failed.status, 401, "the half sign-in is used up");
    });

    test("a session proves its passkey again for max_auth_age; that proof also opens API key management", async () => {
      const alice = await passkeyAccount();
      const session = sessionCookie(
        await stepUp(cookiesOf(await login(stack.server.url, alice.email)), alice.passkey),
      );
      assert.equal(
        (await askResolve(stack.server.url, "/both/x", { cookie: session })).status,
        200,
      );
      clock.advance(20 * MINUTE);
      const stale = await askResolve(stack.server.url, "/both/x", {
        cookie: session,
        accept: "application/json",
      });
      assert.equal(stale.status, 401);
      assert.equal((await bodyOf(stale)).error.code, "reauthentication_required");
      const key = () => fetch(url("/api-keys"), postJson({ name: "ci" }, session));
      const refused = await key();
      assert.equal(refused.status, 403);
      assert.equal((await bodyOf(refused)).error.code, "reauthentication_required");

      const proven = await stepUp(session, alice.passkey);
      assert.equal(proven.status, 200);
      assert.equal(
        (await askResolve(stack.server.url, "/both/x", { cookie: session })).status,
        200,
      );
      assert.equal((await key()).status, 201, "a factor proven now counts as a recent proof");
      // Five minutes on, the proof is old again: keys and passkeys alike.
      clock.advance(6 * MINUTE);
      assert.equal((await key()).status, 403);
      const options = await fetch(url("/passkeys/register/options"), postJson({}, session));
      assert.equal(options.status, 403);
      assert.equal((await bodyOf(options)).error.code, "reauthentication_required");
    });

    test("a factor proven on one site's session counts for the sign-in's other sessions, not for other sign-ins", async () => {
      const alice = await passkeyAccount();
      const { gatehouse } = stack.server;
      const home = (await gatehouse.sessions.create(alice.id, "password")).session;
      const satellite = { ...home, id: `${home.id.slice(0, 60)}sat`, signInId: home.id, site: "b" };
      const { createdAt: _, ...row } = satellite;
      await stack.database.db.insert(sessions).values(row);
      const other = (await gatehouse.sessions.create(alice.id, "password")).session;
      await gatehouse.sessions.recordFactor(satellite.id, ["hwk", "mfa"]);
      const amrOf = async (id: string) =>
        (await stack.database.db.select().from(sessions).where(eq(sessions.id, id)))[0]?.amr;
      assert.deepEqual(await amrOf(satellite.id), ["pwd", "hwk", "mfa"]);
      assert.deepEqual(await amrOf(home.id), ["pwd", "hwk", "mfa"]);
      assert.deepEqual(await amrOf(other.id), ["pwd"], "another sign-in proves nothing");
    });

    test("MFA_REQUIRED_ROLES=admin: the console asks for a second factor; an admin removes a user's passkey", async () => {
      const email = uniqueEmail("mfa-admin");
      await register(stack.server.url, email);
      const adminId = await userId(email);
      await stack.server.gatehouse.users.setRoles(adminId, ["admin"]);
      const plain = sessionCookie(await login(stack.server.url, email));
      const page = await fetch(url("/admin/users"), {
        headers: { cookie: plain, accept: "text/html" },
        redirect: "manual",
      });
      assert.equal(page.status, 302);
      assert.match(page.headers.get("location") ?? "", /^\/auth\/mfa\/setup\?rd=/);
      const api = await fetch(url("/admin/users"), {
        headers: { cookie: plain, accept: "application/json" },
      });
      assert.equal(api.status, 401);
      assert.equal((await bodyOf(api)).error.code, "mfa_enrolment_required");
      // Every admin route, from the route table, asks the same; nothing changes.
      const routes = stack.server.gatehouse.app.routes.filter(
        (route) => route.path.startsWith("/auth/admin") && route.method !== "ALL",
      );
      assert.ok(routes.length >= 10);
      for (const { method, path } of routes) {
        const asked = await fetch(`${stack.server.url}${path.replace(":id", adminId)}`, {
          method,
          headers: {
            cookie: plain,
            accept: "application/json",
            "content-type": "application/json",
          },
          body: method === "GET" ? undefined : JSON.stringify({ roles: [] }),
        });
        assert.equal(asked.status, 401, `${method} ${path}`);
        assert.equal(
          (await bodyOf(asked)).error.code,
          "mfa_enrolment_required",
          `${method} ${path}`,
        );
      }
      assert.deepEqual(
        (await stack.database.db.select().from(users).where(eq(users.id, adminId)))[0]?.roles,
        ["admin"],
      );

      // With a passkey: a password session is sent to prove it, then comes in.
      const passkey = await enrol(email, plain, "Admin key");
      const withFactor = await fetch(url("/admin/users"), {
        headers: { cookie: plain, accept: "application/json" },
      });
      assert.equal(withFactor.status, 200, "the enrolling session proved the passkey");
      const half = cookiesOf(await login(stack.server.url, email));
      const fresh = sessionCookie(await stepUp(half, passkey));
      const withoutProof = (await stack.server.gatehouse.sessions.create(adminId, "password"))
        .token;
      const asked = await fetch(url("/admin/users"), {
        headers: { cookie: `${plain.split("=")[0]}=${withoutProof}`, accept: "text/html" },
        redirect: "manual",
      });
      assert.equal(asked.status, 302);
      assert.match(asked.headers.get("location") ?? "", /^\/auth\/mfa\?rd=/);

      // The user's page lists the target's factors, each with a remove button.
      const target = await passkeyAccount();
      const userPage = await (
        await fetch(url(`/admin/users/${target.id}`), { headers: { cookie: fresh } })
      ).text();
      assert.match(userPage, /Second factors/);
      assert.match(userPage, /Passkey “Laptop”/);
      const [stored] = await stack.database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, target.id));
      const factor = `passkey:${stored?.id}`;
      assert.match(userPage, new RegExp(`value="${factor}"`));
      const removeUrl = url(`/admin/users/${target.id}/remove-factor`);
      const confirm = await fetch(removeUrl, postForm({ factor }, fresh));
      assert.equal(confirm.status, 200);
      assert.match(await confirm.text(), /Remove Passkey “Laptop” from/);
      const bad = await fetch(
        removeUrl,
        postForm({ factor: "passkey:nope", confirm: "yes" }, fresh),
      );
      assert.equal(bad.status, 400);
      const removed = await fetch(removeUrl, postForm({ factor, confirm: "yes" }, fresh));
      assert.equal(removed.status, 303);
      const left = await stack.database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, target.id));
      assert.equal(left.length, 0);
      const [event] = await stack.database.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.userId, target.id), eq(auditEvents.type, "mfa.removed")));
      assert.equal(event?.actorId, adminId);
      assert.equal(event?.detail.kind, "passkey");
      await stack.server.gatehouse.mailer.idle();
      const told = () =>
        smtp
          .waiting(target.email)
          .some((mail) => /an administrator removed the passkey “Laptop”/.test(mail.text));
      for (let i = 0; i < 40 && !told(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(told(), "the user was told by mail");
      // The target signs in with a password alone again: nothing left to ask for.
      assert.ok(sessionCookie(await login(stack.server.url, target.email)));
    });

    test("attack: an admin's stale session removes the admin's own factor from the console (the account page asks for a proof within 5 minutes)", async () => {
      const admin = await passkeyAccount();
      await stack.server.gatehouse.users.setRoles(admin.id, ["admin"]);
      const [stored] = await stack.database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, admin.id));
      const factor = `passkey:${stored?.id}`;
      const removeOwn = () =>
        fetch(url(`/admin/users/${admin.id}/remove-factor`), postJson({ factor }, admin.session));
      clock.advance(6 * MINUTE);
      // The console still opens (the session proved a factor once) ...
      const console = await fetch(url("/admin/users"), {
        headers: { cookie: admin.session, accept: "application/json" },
      });
      assert.equal(console.status, 200);
      // ... but its own factors change only after a recent proof, as on the account page.
      const refused = await removeOwn();
      assert.equal(refused.status, 403, await refused.clone().text());
      assert.equal((await bodyOf(refused)).error.code, "reauthentication_required");
      const left = () =>
        stack.database.db
          .select()
          .from(webauthnCredentials)
          .where(eq(webauthnCredentials.userId, admin.id));
      assert.equal((await left()).length, 1, "nothing removed");
      // Proven again: the admin may.
      assert.equal((await stepUp(admin.session, admin.passkey)).status, 200);
      assert.equal((await removeOwn()).status, 200);
      assert.equal((await left()).length, 0);
    });
  },
  { clock },
);
