// The email flows end to end through a real SMTP listener: every link is
// taken from a received message and followed as a browser would (GET shows a
// page, its button POSTs).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  login,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm as form, postJson as json } from "../helpers/http.ts";
import { linkTo, startSmtp } from "../helpers/smtp.ts";

const smtp = await startSmtp();
after(() => smtp.stop());

const NEW_PASSWORD = "another quite uncommon passphrase 7";
const RULES = `[{ path: "/verified/**", require_verified_email: true, access: authenticated }]`;

/** The token in the form of the page a link opens. */
function hiddenToken(page: string): string {
  const match = page.match(/name="token" value="([^"]+)"/);
  if (!match?.[1]) throw new Error(`no token field in:\n${page}`);
  return match[1];
}

const clock = manualClock();

describeOnEachBackend(
  "email flows",
  { SMTP_URL: smtp.url, RULES, SITE_NAME: "Acme Tools" },
  (stack) => {
    const base = () => stack.server.url;

    test("registration sends a verification link; its page confirms with a POST and the presenting session sees it at once", async () => {
      const email = uniqueEmail("verify");
      const cookie = await register(base(), email);
      const before = await askResolve(base(), "/verified/page", { cookie });
      assert.equal(before.status, 403);
      assert.match(await before.text(), /verified email address is required/);
      assert.equal(
        (await askResolve(base(), "/", { cookie })).headers.get("x-auth-email-verified"),
        "false",
      );

      const mail = await smtp.next(email);
      assert.equal(mail.subject, "Confirm your email address for Acme Tools");
      assert.match(mail.from, /Acme Tools/);
      assert.match(mail.text, new RegExp(email.replace(/[.]/g, "\\.")));
      const link = linkTo(mail, "/auth/verify-email");
      assert.equal(link.origin, base());
      assert.ok(
        mail.html.includes(link.searchParams.get("token") as string),
        "the HTML has the link too",
      );

      // Opening the link (twice, as a mail scanner and then the user) uses nothing up.
      for (let i = 0; i < 2; i++) {
        const page = await fetch(link);
        assert.equal(page.status, 200);
        assert.equal(page.headers.get("cache-control"), "no-store");
        assert.equal(hiddenToken(await page.text()), link.searchParams.get("token"));
      }
      // Confirmed in the browser that registered: it keeps its session.
      const confirmed = await fetch(
        `${base()}/auth/verify-email`,
        form({ token: link.searchParams.get("token") as string }, cookie),
      );
      assert.equal(confirmed.status, 200);
      assert.match(await confirmed.text(), /Address confirmed/);

      // No waiting for caches: the session in memory was refreshed.
      const resolved = await askResolve(base(), "/verified/page", { cookie });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-email-verified"), "true");
      const info = await bodyOf(await fetch(`${base()}/auth/userinfo`, { headers: { cookie } }));
      assert.equal(info.emailVerified, true);

      // Used: the page and the button both refuse it now.
      assert.equal((await fetch(link)).status, 400);
      const again = await fetch(
        `${base()}/auth/verify-email`,
        json({ token: link.searchParams.get("token") }),
      );
      assert.equal(again.status, 400);
      assert.equal((await bodyOf(again)).error.code, "invalid_token");
    });

    test("resending verification: a new link replaces the old one, and the fourth request within the hour is refused", async () => {
      const email = uniqueEmail("resend");
      const cookie = await register(base(), email);
      const first = linkTo(await smtp.next(email), "/auth/verify-email");
      let latest = first;
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${base()}/auth/verify-email/resend`, json({}, cookie));
        assert.equal(response.status, 200);
        assert.equal((await bodyOf(response)).status, "sent");
        latest = linkTo(await smtp.next(email), "/auth/verify-email");
      }
      const limited = await fetch(`${base()}/auth/verify-email/resend`, json({}, cookie));
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get("retry-after")) > 0);
      assert.equal(smtp.waiting(email).length, 0);

      assert.equal((await fetch(first)).status, 400, "an older link dies when a new one is sent");
      const ok = await fetch(
        `${base()}/auth/verify-email`,
        json({ token: latest.searchParams.get("token") }, cookie),
      );
      assert.equal(ok.status, 200);
      const done = await fetch(`${base()}/auth/verify-email/resend`, json({}, cookie));
      assert.equal((await bodyOf(done)).status, "already_verified");
      // Without a session there is nobody to resend to.
      assert.equal((await fetch(`${base()}/auth/verify-email/resend`, json({}))).status, 401);
    });

    test("password reset: single use, a weak password keeps the link, every session is signed out, the address is told", async () => {
      const email = uniqueEmail("reset");
      const first = await register(base(), email);
      await smtp.next(email); // the verification message
      const second = sessionCookie(await login(base(), email));

      const requested = await fetch(`${base()}/auth/forgot-password`, json({ email }));
      assert.equal(requested.status, 202);
      const mail = await smtp.next(email);
      assert.equal(mail.subject, "Reset your Acme Tools password");
      assert.match(mail.text, /30 minutes/);
      const link = linkTo(mail, "/auth/reset-password");
      const token = link.searchParams.get("token") as string;

      const page = await fetch(link);
      assert.equal(page.status, 200);
      assert.equal(hiddenToken(await page.text()), token);

      const weak = await fetch(
        `${base()}/auth/reset-password`,
        form({ token, password: "password" }),
      );
      assert.equal(weak.status, 400);
      assert.match(await weak.text(), /too common/);

      const reset = await fetch(
        `${base()}/auth/reset-password`,
        form({ token, password: NEW_PASSWORD }),
      );
      assert.equal(reset.status, 200);
      assert.match(await reset.text(), /Sign in with the new password/);

      for (const cookie of [first, second])
        assert.equal((await askResolve(base(), "/", { cookie })).status, 401);
      assert.equal((await login(base(), email)).status, 401);
      assert.equal((await login(base(), email, NEW_PASSWORD)).status, 200);
      const notice = await smtp.next(email);
      assert.equal(notice.subject, "Your Acme Tools password was changed");

      const reused = await fetch(
        `${base()}/auth/reset-password`,
        json({ token, password: GOOD_PASSWORD }),
      );
      assert.equal(reused.status, 400);
      assert.equal((await bodyOf(reused)).error.code, "invalid_token");
      assert.equal(
        (await login(base(), email, NEW_PASSWORD)).status,
        200,
        "the refused reuse changed nothing",
      );
      assert.equal((await fetch(link)).status, 400);
    });

    test("a newer reset link kills the older one; links expire after 30 minutes", async () => {
      const email = uniqueEmail("expiry");
      await register(base(), email);
      await smtp.next(email);
      await fetch(`${base()}/auth/forgot-password`, json({ email }));
      const older = linkTo(await smtp.next(email), "/auth/reset-password");
      await fetch(`${base()}/auth/forgot-password`, json({ email }));
      const newer = linkTo(await smtp.next(email), "/auth/reset-password");
      assert.equal((await fetch(older)).status, 400);
      assert.equal((await fetch(newer)).status, 200);

      clock.advance(31 * 60 * 1000);
      assert.equal((await fetch(newer)).status, 400);
      const expired = await fetch(
        `${base()}/auth/reset-password`,
        json({ token: newer.searchParams.get("token"), password: NEW_PASSWORD }),
      );
      assert.equal(expired.status, 400);
      assert.equal((await login(base(), email)).status, 200, "the password is unchanged");
    });

    test("asking to reset an unknown address answers exactly like a known one, and sends nothing", async () => {
      const known = uniqueEmail("known");
      await register(base(), known);
      await smtp.next(known);
      const unknown = uniqueEmail("nobody");
      const answers = [];
      for (const email of [known, unknown]) {
        const viaJson = await fetch(`${base()}/auth/forgot-password`, json({ email }));
        const viaForm = await fetch(`${base()}/auth/forgot-password`, form({ email }));
        answers.push({
          json: [viaJson.status, await viaJson.text()],
          form: [viaForm.status, await viaForm.text()],
        });
      }
      assert.deepEqual(answers[0], answers[1]);
      await smtp.next(known);
      await smtp.next(known);
      await stack.server.gatehouse.mailer.idle();
      assert.equal(smtp.waiting(unknown).length, 0);
      // A malformed address is a plain 400 (it says nothing about accounts).
      assert.equal(
        (await fetch(`${base()}/auth/forgot-password`, json({ email: "nope" }))).status,
        400,
      );
    });

    test("changing the password needs the current one, can sign out other sessions, and ends old reset links", async () => {
      const email = uniqueEmail("change");
      const current = await register(base(), email);
      await smtp.next(email);
      const other = sessionCookie(await login(base(), email));
      await fetch(`${base()}/auth/forgot-password`, json({ email }));
      const resetLink = linkTo(await smtp.next(email), "/auth/reset-password");

      const wrong = await fetch(
        `${base()}/auth/password`,
        json({ currentPassword: "not the password", newPassword: NEW_PASSWORD }, current),
      );
      assert.equal(wrong.status, 400);
      assert.equal((await bodyOf(wrong)).error.code, "wrong_password");
      const weak = await fetch(
        `${base()}/auth/password`,
        json({ currentPassword: GOOD_PASSWORD, newPassword: "short" }, current),
      );
      assert.equal(weak.status, 400);
      assert.equal((await bodyOf(weak)).error.code, "weak_password");
      assert.equal(
        (await askResolve(base(), "/", { cookie: other })).status,
        200,
        "refusals change nothing",
      );

      const changed = await fetch(
        `${base()}/auth/password`,
        form(
          { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD, signOutOthers: "true" },
          current,
        ),
      );
      assert.equal(changed.status, 200);
      assert.match(await changed.text(), /1 other session was signed out/);
      assert.equal((await askResolve(base(), "/", { cookie: current })).status, 200);
      assert.equal((await askResolve(base(), "/", { cookie: other })).status, 401);
      assert.equal((await login(base(), email, NEW_PASSWORD)).status, 200);
      assert.equal((await smtp.next(email)).subject, "Your Acme Tools password was changed");
      assert.equal(
        (await fetch(resetLink)).status,
        400,
        "a reset link from before the change is dead",
      );

      // Without a session: 401.
      assert.equal((await fetch(`${base()}/auth/password`, json({}))).status, 401);
    });

    test("registering an address that has an account creates nothing and tells that address", async () => {
      const email = uniqueEmail("twice");
      await register(base(), email);
      await smtp.next(email);
      const again = await fetch(`${base()}/auth/register`, json({ email, password: NEW_PASSWORD }));
      assert.equal(again.status, 201);
      assert.equal(again.headers.getSetCookie().length, 0);
      const notice = await smtp.next(email);
      assert.equal(notice.subject, "Your Acme Tools account");
      assert.ok(linkTo(notice, "/auth/forgot-password"));
      assert.equal((await login(base(), email)).status, 200);
      assert.equal((await login(base(), email, NEW_PASSWORD)).status, 401);
    });
  },
  { clock },
);
