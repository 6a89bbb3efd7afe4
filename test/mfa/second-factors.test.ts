// Second factors end to end on both databases, with a manual clock: TOTP
// enrolment confirmed by its first code, the ±1 step window and its edges,
// replay, the per-account limit, recovery codes, removal; half sign-ins that
// never resolve; step-up through /_resolve (401 + Location for navigations,
// JSON codes for API calls, enrolment instead of a loop, MFA_REQUIRED_ROLES,
// max_auth_age); API keys refused on an mfa rule unless the rule names them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { and, eq, sql } from "drizzle-orm";
import { auditEvents, totpFactors, users } from "../../src/db/schema.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import { configFile } from "../helpers/config-file.ts";
import {
  askResolve,
  bodyOf,
  login,
  markVerified,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm, postJson, rawRequest } from "../helpers/http.ts";

const STEP = 30_000;
const MINUTE = 60_000;
// The middle of a time step, so "one step either side" is exact.
const clock = manualClock(Math.floor(Date.now() / STEP) * STEP + STEP / 2);

const config = configFile(`
mfa_required_roles: [admin]
login_max_failures_per_account: 6
rules:
  - path: /public/**
    access: public
  - path: /admin/**
    mfa: true
  - path: /fresh/**
    max_auth_age: 15m
  - path: /both/**
    mfa: true
    max_auth_age: 15m
  - path: /keys-welcome/**
    mfa: true
    credentials: [session, api-key]
  - path: /staff/**
    roles: [staff]
    mfa: true
`);

/** A JWT's claims, unverified (the assertion tests verify signatures elsewhere). */
function claimsOf(jwt: string | null): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(jwt).split(".")[1] ?? "", "base64url").toString());
}

describeOnEachBackend(
  "second factors",
  { GATEHOUSE_CONFIG: config },
  (stack) => {
    const base = () => stack.server.url;

    /** Starts and confirms an authenticator app in this (fresh) session; its secret and recovery codes. */
    async function enrol(cookie: string): Promise<{ secret: string; codes: string[] }> {
      const started = await fetch(`${base()}/auth/mfa/totp`, postJson({}, cookie));
      assert.equal(started.status, 201, await started.clone().text());
      const { secret, uri, qrSvg } = await bodyOf(started);
      assert.match(uri, /^otpauth:\/\/totp\/.*secret=/);
      assert.match(qrSvg, /^<svg /);
      const confirmed = await fetch(
        `${base()}/auth/mfa/totp/confirm`,
        postJson({ code: totpCodeAt(secret, clock.now()) }, cookie),
      );
      assert.equal(confirmed.status, 200, await confirmed.clone().text());
      const { recoveryCodes } = await bodyOf(confirmed);
      return { secret, codes: recoveryCodes };
    }

    const verify = (cookie: string, code: string, kind = "totp") =>
      fetch(`${base()}/auth/mfa/verify`, postJson({ kind, code }, cookie));

    /** Signs in with the password; for an enrolled account, the half sign-in's cookie. */
    async function halfSignIn(email: string): Promise<string> {
      const response = await login(base(), email);
      assert.equal(response.status, 200);
      assert.equal((await bodyOf(response)).status, "mfa_required");
      const cookies = response.headers.getSetCookie();
      assert.ok(!cookies.some((c) => /^gatehouse_session=/.test(c)), "no session cookie");
      const half = cookies.find((c) => /^gatehouse_session_mfa=/.test(c));
      assert.ok(half, "the half sign-in's cookie");
      // Sent to the hosted pages only: no application behind the proxy ever sees it.
      assert.match(half, /; Path=\/auth(;|$)/);
      assert.match(half, /; HttpOnly/);
      return half.split(";")[0] as string;
    }

    test("enrolment: the first code confirms it; a wrong one changes nothing", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      const started = await bodyOf(await fetch(`${base()}/auth/mfa/totp`, postJson({}, cookie)));
      const wrong = await fetch(
        `${base()}/auth/mfa/totp/confirm`,
        postJson({ code: "000000" }, cookie),
      );
      assert.equal(wrong.status, 400);
      assert.equal((await bodyOf(wrong)).error.code, "invalid_code");
      const garbage = await fetch(
        `${base()}/auth/mfa/totp/confirm`,
        postJson({ code: { x: 1 } }, cookie),
      );
      assert.equal(garbage.status, 400);
      let summary = await bodyOf(
        await fetch(`${base()}/auth/mfa/factors`, { headers: { cookie } }),
      );
      assert.deepEqual(summary, { totp: null, recoveryCodesLeft: 0, passkeys: 0, enrolled: false });
      // The secret is stored sealed, never as the base32 the app got.
      const [row] = await stack.database.db.select().from(totpFactors);
      assert.ok(row && !row.secret.includes(started.secret));
      const confirmed = await fetch(
        `${base()}/auth/mfa/totp/confirm`,
        postJson({ code: totpCodeAt(started.secret, clock.now()) }, cookie),
      );
      assert.equal(confirmed.status, 200);
      assert.equal((await bodyOf(confirmed)).recoveryCodes.length, 10);
      summary = await bodyOf(await fetch(`${base()}/auth/mfa/factors`, { headers: { cookie } }));
      assert.equal(summary.enrolled, true);
      assert.equal(summary.recoveryCodesLeft, 10);
      // The session that confirmed it proved it.
      const resolved = await askResolve(base(), "/admin/", { cookie });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-amr"), "pwd,otp,mfa");
      assert.equal(resolved.headers.get("x-auth-mfa"), "true");
      const claims = claimsOf(resolved.headers.get("x-auth-jwt"));
      assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
      assert.equal(claims.acr, "mfa");
      // A second app cannot be started over the first.
      const again = await fetch(`${base()}/auth/mfa/totp`, postJson({}, cookie));
      assert.equal(again.status, 409);
    });

    test("the window: one step either side, not two; a code is never accepted twice", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      const { secret } = await enrol(cookie);
      clock.advance(10 * STEP);
      const at = (steps: number) => totpCodeAt(secret, clock.now() + steps * STEP);
      assert.equal((await verify(cookie, at(-2))).status, 400, "two steps back");
      assert.equal((await verify(cookie, at(2))).status, 400, "two steps ahead");
      assert.equal((await verify(cookie, at(-1))).status, 200, "one step back");
      const replay = await verify(cookie, at(-1));
      assert.equal(replay.status, 400, "the same code again");
      assert.equal((await bodyOf(replay)).error.code, "invalid_code");
      assert.equal((await verify(cookie, at(0))).status, 200, "the current step");
      assert.equal((await verify(cookie, at(-1))).status, 400, "an earlier step after a later one");
      assert.equal((await verify(cookie, at(1))).status, 200, "one step ahead");
      assert.equal((await verify(cookie, at(0))).status, 400, "behind the last accepted step");
      // Spaces are fine, anything else is no code.
      clock.advance(3 * STEP);
      assert.equal((await verify(cookie, `${at(0).slice(0, 3)} ${at(0).slice(3)}`)).status, 200);
      assert.equal((await verify(cookie, "12345a")).status, 400);
      const badKind = await verify(cookie, at(0), "sms");
      assert.equal(badKind.status, 400);
      assert.match((await bodyOf(badKind)).error.message, /kind must be one of/);
    });

    test("wrong codes are limited per account: past the limit even the right code waits", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      const { secret } = await enrol(cookie);
      clock.advance(2 * STEP);
      for (let i = 0; i < 6; i++) assert.equal((await verify(cookie, "000000")).status, 400);
      const limited = await verify(cookie, totpCodeAt(secret, clock.now()));
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get("retry-after")) > 0);
      // The code that was refused unchecked is still good once the limit passes: nothing was used up.
      const [row] = await stack.database.db
        .select({ lastStep: totpFactors.lastStep })
        .from(totpFactors)
        .innerJoin(users, eq(users.id, totpFactors.userId))
        .where(eq(users.email, email));
      assert.ok((row?.lastStep ?? 0) < Math.floor(clock.now() / STEP));
      const metrics = await (await fetch(`${base()}/metrics`)).text();
      assert.match(
        metrics,
        /gatehouse_second_factor_total\{kind="totp",result="rate_limited"\} [1-9]/,
      );
      assert.match(metrics, /gatehouse_second_factor_total\{kind="totp",result="failure"\} [1-9]/);
    });

    test("a half sign-in never resolves nor opens the account page; the second factor makes the session", async () => {
      const email = uniqueEmail();
      const { secret } = await enrol(await register(base(), email));
      clock.advance(2 * STEP);
      const half = await halfSignIn(email);
      const token = half.split("=")[1] as string;
      // Neither as it is, nor presented as a session cookie.
      for (const cookie of [half, `gatehouse_session=${token}`]) {
        assert.equal((await askResolve(base(), "/anything", { cookie })).status, 401);
        assert.equal(
          (await askResolve(base(), "/public/x", { cookie })).headers.get("x-auth-anonymous"),
          "true",
        );
        const account = await fetch(`${base()}/auth/account`, {
          headers: { cookie },
          redirect: "manual",
        });
        assert.equal(account.status, 302);
        assert.match(account.headers.get("location") ?? "", /\/auth\/login/);
        assert.equal((await fetch(`${base()}/auth/userinfo`, { headers: { cookie } })).status, 401);
      }
      // The step-up page offers the user's factors, the code input as one-time-code.
      const page = await (await fetch(`${base()}/auth/mfa`, { headers: { cookie: half } })).text();
      assert.match(page, /autocomplete="one-time-code"/);
      assert.match(page, /name="kind" value="recovery"/);
      const wrong = await verify(half, "000000");
      assert.equal(wrong.status, 400);
      const done = await verify(half, totpCodeAt(secret, clock.now()));
      assert.equal(done.status, 200);
      const cookie = sessionCookie(done);
      const resolved = await askResolve(base(), "/admin/x", { cookie });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-amr"), "pwd,otp,mfa");
      // The half sign-in is used up.
      assert.equal((await verify(half, totpCodeAt(secret, clock.now() + STEP))).status, 401);
    });

    test("recovery codes: each works once, in any case and spacing; new ones end the old", async () => {
      const email = uniqueEmail();
      const { codes } = await enrol(await register(base(), email));
      const [first, second] = codes as [string, string];
      const half = await halfSignIn(email);
      const used = await verify(half, ` ${first.toUpperCase().replaceAll("-", " ")} `, "recovery");
      assert.equal(used.status, 200);
      const cookie = sessionCookie(used);
      assert.equal(
        (await askResolve(base(), "/admin/", { cookie })).headers.get("x-auth-mfa"),
        "true",
      );
      const again = await halfSignIn(email);
      assert.equal((await verify(again, first, "recovery")).status, 400, "used once already");
      const fresh = await fetch(`${base()}/auth/mfa/recovery-codes`, postJson({}, cookie));
      assert.equal(fresh.status, 201);
      assert.equal((await bodyOf(fresh)).recoveryCodes.length, 10);
      assert.equal((await verify(again, second, "recovery")).status, 400, "replaced");
    });

    test("step-up through /_resolve: enrolment without a factor, the step-up page with one, JSON codes for API calls", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      const navigation = await askResolve(base(), "/admin/panel", { cookie, accept: "text/html" });
      assert.equal(navigation.status, 401);
      assert.equal(navigation.headers.get("x-gatehouse-error"), "mfa_enrolment_required");
      const enrolAt = new URL(navigation.headers.get("location") ?? "");
      assert.equal(enrolAt.pathname, "/auth/mfa/setup", "no factor: enrolment, not a loop");
      assert.equal(enrolAt.searchParams.get("rd"), "http://app.example.test/admin/panel");
      assert.equal(navigation.headers.get("cache-control"), "no-store");
      // A proxy that passes redirects gets a 302 for a navigation that asked for one.
      const redirected = await rawRequest(`${base()}/_resolve?redirect=true`, {
        cookie,
        "x-forwarded-uri": "/admin/panel",
        "x-forwarded-method": "GET",
        "x-forwarded-host": "app.example.test",
        "x-forwarded-proto": "https",
        accept: "text/html",
      });
      assert.equal(redirected.status, 302);
      assert.match(String(redirected.headers.location), /\/auth\/mfa\/setup\?rd=/);
      // The enrolment page shows the QR code and the key as text.
      const setupPage = await (await fetch(enrolAt, { headers: { cookie } })).text();
      assert.match(setupPage, /<svg xmlns/);
      assert.match(setupPage, /id="totp-secret"/);

      // Enrolled in another browser: this password-only session must prove it.
      const other = sessionCookie(await login(base(), email));
      const { secret } = await enrol(other);
      const stepUp = await askResolve(base(), "/admin/panel", { cookie, accept: "text/html" });
      assert.equal(stepUp.status, 401);
      assert.equal(stepUp.headers.get("x-gatehouse-error"), "mfa_required");
      assert.equal(new URL(stepUp.headers.get("location") ?? "").pathname, "/auth/mfa");
      const api = await askResolve(base(), "/admin/panel", { cookie, accept: "application/json" });
      assert.equal(api.status, 401);
      assert.equal((await bodyOf(api)).error.code, "mfa_required");
      assert.equal(api.headers.get("x-auth-user-id"), null);
      // A 403 a second factor would not fix comes first: no step-up that ends in a refusal.
      assert.equal((await askResolve(base(), "/staff/", { cookie })).status, 403);
      // Proving the factor in this session opens it at once (every cache sees the change).
      clock.advance(2 * STEP);
      const proven = await fetch(
        `${base()}/auth/mfa/verify?rd=${encodeURIComponent(`${base()}/back-here`)}`,
        postForm({ kind: "totp", code: totpCodeAt(secret, clock.now()) }, cookie),
      );
      assert.equal(proven.status, 303);
      assert.equal(proven.headers.get("location"), `${base()}/back-here`);
      // A return target on another site is never followed.
      clock.advance(STEP);
      const evil = await fetch(
        `${base()}/auth/mfa/verify?rd=${encodeURIComponent("https://evil.example/")}`,
        postForm({ kind: "totp", code: totpCodeAt(secret, clock.now()) }, cookie),
      );
      assert.equal(evil.status, 303);
      assert.doesNotMatch(evil.headers.get("location") ?? "", /evil/);
      const opened = await askResolve(base(), "/admin/panel", { cookie });
      assert.equal(opened.status, 200);
      assert.equal(opened.headers.get("x-auth-amr"), "pwd,otp,mfa");
    });

    test("max_auth_age: a proof older than the rule allows is asked for again", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      assert.equal((await askResolve(base(), "/fresh/report", { cookie })).status, 200);
      clock.advance(16 * MINUTE);
      const stale = await askResolve(base(), "/fresh/report", {
        cookie,
        accept: "application/json",
      });
      assert.equal(stale.status, 401);
      assert.equal((await bodyOf(stale)).error.code, "reauthentication_required");
      assert.equal(new URL(stale.headers.get("location") ?? "").pathname, "/auth/mfa");
      // Signing in again is a fresh proof.
      const again = sessionCookie(await login(base(), email));
      assert.equal((await askResolve(base(), "/fresh/report", { cookie: again })).status, 200);
      const { secret } = await enrol(again);
      assert.equal((await askResolve(base(), "/both/", { cookie: again })).status, 200);
      clock.advance(16 * MINUTE);
      const both = await askResolve(base(), "/both/", { cookie: again });
      assert.equal(both.headers.get("x-gatehouse-error"), "reauthentication_required");
      assert.equal((await verify(again, totpCodeAt(secret, clock.now()))).status, 200);
      assert.equal((await askResolve(base(), "/both/", { cookie: again })).status, 200);
    });

    test("MFA_REQUIRED_ROLES: an admin enrols before anything protected resolves", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      const [user] = await stack.database.db
        .update(users)
        .set({ roles: ["admin"] })
        .where(eq(users.email, email))
        .returning({ id: users.id });
      await stack.server.gatehouse.sessions.refreshUser(user?.id ?? "");
      const anywhere = await askResolve(base(), "/reports", { cookie, accept: "text/html" });
      assert.equal(anywhere.status, 401);
      assert.equal(anywhere.headers.get("x-gatehouse-error"), "mfa_enrolment_required");
      assert.equal((await askResolve(base(), "/public/x", { cookie })).status, 200);
      await enrol(cookie);
      assert.equal((await askResolve(base(), "/reports", { cookie })).status, 200);
    });

    test("API keys: refused on an mfa rule with the reason, unless the rule names them", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      await markVerified(stack.server, email);
      const created = await fetch(`${base()}/auth/api-keys`, postJson({ name: "ci" }, cookie));
      const { key } = await bodyOf(created);
      const authorization = `Bearer ${key}`;
      const refused = await askResolve(base(), "/admin/x", { authorization });
      assert.equal(refused.status, 403);
      assert.match((await bodyOf(refused)).error.message, /API key cannot prove a second factor/);
      assert.equal((await askResolve(base(), "/fresh/x", { authorization })).status, 403);
      assert.equal((await askResolve(base(), "/keys-welcome/x", { authorization })).status, 200);
      const header = (await askResolve(base(), "/reports", { authorization })).headers;
      assert.equal(header.get("x-auth-mfa"), "false");
      assert.equal(header.get("x-auth-amr"), "api-key");
    });

    test("removing the app needs a recent proof, is audited, and ends the second step", async () => {
      const email = uniqueEmail();
      const cookie = await register(base(), email);
      const { secret } = await enrol(cookie);
      clock.advance(6 * MINUTE);
      const stale = await fetch(`${base()}/auth/mfa/totp`, {
        method: "DELETE",
        headers: { cookie },
      });
      assert.equal(stale.status, 403);
      assert.equal((await bodyOf(stale)).error.code, "reauthentication_required");
      const regenerate = await fetch(`${base()}/auth/mfa/recovery-codes`, postJson({}, cookie));
      assert.equal(regenerate.status, 403);
      // A step-up is a fresh proof.
      assert.equal((await verify(cookie, totpCodeAt(secret, clock.now()))).status, 200);
      const removed = await fetch(`${base()}/auth/mfa/totp`, {
        method: "DELETE",
        headers: { cookie },
      });
      assert.equal(removed.status, 200);
      const signIn = await login(base(), email);
      assert.ok(sessionCookie(signIn), "a password alone signs in again");
      const [user] = await stack.database.db.select().from(users).where(eq(users.email, email));
      let types: string[] = [];
      for (let i = 0; i < 50 && !types.includes("mfa.totp_removed"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        types = (
          await stack.database.db
            .select({ type: auditEvents.type })
            .from(auditEvents)
            .where(and(eq(auditEvents.userId, user?.id ?? "")))
        ).map((row) => row.type);
      }
      assert.ok(types.includes("mfa.totp_enabled"));
      assert.ok(types.includes("mfa.totp_removed"));
      assert.ok(types.includes("mfa.verified"));
    });

    test("a half sign-in ends when the account changes under it: a new password, a disabled account", async () => {
      const email = uniqueEmail();
      const { secret } = await enrol(await register(base(), email));
      clock.advance(2 * STEP);
      const half = await halfSignIn(email);
      // The password is reset meanwhile: the session it was proven for is never made.
      await stack.database.db.execute(
        sql`update password_credentials set hash = 'replaced' where user_id = (select id from users where email = ${email})`,
      );
      const changed = await verify(half, totpCodeAt(secret, clock.now()));
      assert.equal(changed.status, 409);
      assert.equal(
        changed.headers.getSetCookie().filter((c) => /^gatehouse_session=/.test(c)).length,
        0,
      );

      const other = uniqueEmail();
      const second = await enrol(await register(base(), other));
      clock.advance(STEP);
      const waiting = await halfSignIn(other);
      const [user] = await stack.database.db.select().from(users).where(eq(users.email, other));
      await stack.server.gatehouse.users.disable(user?.id ?? "");
      assert.equal((await verify(waiting, totpCodeAt(second.secret, clock.now()))).status, 401);
    });

    test("a form post with a wrong code gets the step-up page again with the message", async () => {
      const email = uniqueEmail();
      await enrol(await register(base(), email));
      const half = await halfSignIn(email);
      const page = await fetch(
        `${base()}/auth/mfa/verify`,
        postForm({ kind: "totp", code: "000000" }, half),
      );
      assert.equal(page.status, 400);
      assert.match(await page.text(), /role="alert"/);
      const nobody = await fetch(
        `${base()}/auth/mfa/verify`,
        postJson({ kind: "totp", code: "123456" }),
      );
      assert.equal(nobody.status, 401);
    });
  },
  { clock },
);
