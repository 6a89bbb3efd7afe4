// Who may register: REGISTRATION_MODE × the password form, a provider's
// sign-up (the policy the provider flow asks) and invitations, with hostile
// addresses; invitations end to end over HTTP with a real SMTP listener (the
// mailed single-use link, expiry checked when used, resend, revoke), on both
// databases.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { eq } from "drizzle-orm";
import { addressInDomains, registrationPolicy } from "../../src/accounts/registration-policy.ts";
import { invitations, users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  login,
  markVerified,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm, postJson } from "../helpers/http.ts";
import { linkTo, startSmtp } from "../helpers/smtp.ts";

const DOMAINS = ["example.com", "*.corp.example"];

test("domain matching: exact and subdomain patterns; hostile addresses refused", () => {
  const allowed = [
    "a@example.com",
    "A@EXAMPLE.COM",
    "x@eu.corp.example",
    "x@a.b.corp.example",
    "ａ@example.com",
  ];
  const refused = [
    "a@example.com.evil.test",
    "a@evilexample.com",
    "a@corp.example", // the wildcard is for subdomains only
    "a@x.evilcorp.example",
    "a@example.com@evil.test",
    "a@evil.test@example.com",
    '"a@example.com"@evil.test',
    "a@example.com.",
    "a@.example.com",
    "a@exa mple.com",
    "a@example.com,b@evil.test",
    "a@ex\u0430mple.com", // Cyrillic a: another domain in punycode
    "a%40example.com@evil.test",
    "",
    "example.com",
  ];
  for (const email of allowed) assert.ok(addressInDomains(email, DOMAINS), email);
  for (const email of refused)
    assert.equal(addressInDomains(email, DOMAINS), false, JSON.stringify(email));
});

test("each mode × the password form and a provider's sign-up (verified or not, invited or not)", async () => {
  const invited = new Set(["guest@elsewhere.test"]);
  const policy = (mode: "open" | "domains" | "invite" | "closed") =>
    registrationPolicy({ mode, domains: DOMAINS, invited: async (email) => invited.has(email) });
  const self = (mode: Parameters<typeof policy>[0], email: string) => {
    try {
      policy(mode).checkSelfService(email);
      return true;
    } catch (error) {
      assert.equal((error as { code: string }).code, "registration_closed");
      return false;
    }
  };
  assert.equal(self("open", "anyone@anywhere.test"), true);
  assert.equal(self("domains", "me@example.com"), true);
  assert.equal(self("domains", "me@example.com.evil.test"), false);
  assert.equal(self("domains", "me@evil.test@example.com"), false);
  assert.equal(self("invite", "me@example.com"), false);
  assert.equal(self("closed", "me@example.com"), false);
  const provider = (mode: Parameters<typeof policy>[0], email: string, verified: boolean) =>
    policy(mode)
      .refuseProvider(email, verified)
      .then((reason) => reason === null);
  assert.equal(await provider("open", "x@any.test", false), true);
  assert.equal(await provider("domains", "x@example.com", true), true);
  assert.equal(await provider("domains", "x@example.com", false), false, "unverified");
  assert.equal(await provider("domains", "x@example.com.evil.test", true), false);
  assert.equal(await provider("invite", "x@example.com", true), false);
  assert.equal(await provider("invite", "guest@elsewhere.test", true), true, "invited");
  assert.equal(
    await provider("invite", "guest@elsewhere.test", false),
    false,
    "invited, unverified",
  );
  assert.equal(await provider("domains", "guest@elsewhere.test", true), true, "invited");
  assert.equal(await provider("closed", "guest@elsewhere.test", true), false);
  assert.equal(policy("open").selfService && policy("domains").selfService, true);
  assert.equal(policy("invite").selfService || policy("closed").selfService, false);
});

const smtp = await startSmtp();
after(() => smtp.stop());
const clock = manualClock();

describeOnEachBackend(
  "invitations (REGISTRATION_MODE=invite)",
  { REGISTRATION_MODE: "invite", SMTP_URL: smtp.url },
  (stack) => {
    const base = () => stack.server.url;
    async function admin() {
      const email = uniqueEmail("admin");
      await stack.server.gatehouse.database.db.insert(users).values({
        id: crypto.randomUUID(),
        email,
        emailVerified: true,
        roles: ["admin"],
      });
      // The admin signs in with a password set through the CLI's path (a reset would do the same).
      const { hash } = await import("@node-rs/argon2");
      const [row] = await stack.database.db.select().from(users).where(eq(users.email, email));
      const { passwordCredentials } = await import("../../src/db/schema.ts");
      await stack.database.db
        .insert(passwordCredentials)
        .values({ userId: row?.id as string, hash: await hash(GOOD_PASSWORD) });
      const response = await login(base(), email);
      assert.equal(response.status, 200);
      return response.headers.getSetCookie()[0]?.split(";")[0] as string;
    }

    test("the form is refused without an invitation; an invited address joins with the roles, once", async () => {
      const stranger = await fetch(
        `${base()}/auth/register`,
        postJson({ email: uniqueEmail(), password: GOOD_PASSWORD }),
      );
      assert.equal(stranger.status, 403);
      assert.match((await bodyOf(stranger)).error.message, /closed|invitation only/);
      const cookie = await admin();
      const invitee = uniqueEmail("invitee");
      const created = await fetch(
        `${base()}/auth/admin/invitations`,
        postJson({ email: invitee.toUpperCase(), roles: ["editor"] }, cookie),
      );
      assert.equal(created.status, 201, await created.clone().text());
      const mail = await smtp.next(invitee);
      const link = linkTo(mail, "/invitation");
      const page = await fetch(link);
      assert.equal(page.status, 200);
      assert.match(await page.text(), new RegExp(invitee.replaceAll(".", "\\.")));
      const token = link.searchParams.get("token") as string;
      const weak = await fetch(`${base()}/auth/invitation`, postForm({ token, password: "short" }));
      assert.equal(weak.status, 400);
      const accepted = await fetch(
        `${base()}/auth/invitation`,
        postForm({ token, password: GOOD_PASSWORD, name: "Ivy" }),
      );
      assert.equal(accepted.status, 303);
      const session = accepted.headers.getSetCookie()[0]?.split(";")[0] as string;
      const resolved = await askResolve(base(), "/x", { cookie: session });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-roles"), "editor");
      assert.equal(resolved.headers.get("x-auth-email-verified"), "true");
      // Single use.
      const again = await fetch(
        `${base()}/auth/invitation`,
        postForm({ token, password: GOOD_PASSWORD }),
      );
      assert.equal(again.status, 400);
      assert.match(await again.text(), /used already/);
      const reopened = await fetch(link);
      assert.equal(reopened.status, 400);
      // Inviting an address that has an account is a conflict.
      const twice = await fetch(
        `${base()}/auth/admin/invitations`,
        postJson({ email: invitee }, cookie),
      );
      assert.equal(twice.status, 409);
    });

    test("expiry is checked when the link is used; resend gives a new link, the old one dies; revoke ends it", async () => {
      const cookie = await admin();
      const invitee = uniqueEmail("late");
      assert.equal(
        (
          await fetch(
            `${base()}/auth/admin/invitations`,
            postJson({ email: invitee, expiresInDays: 1 }, cookie),
          )
        ).status,
        201,
      );
      const first = linkTo(await smtp.next(invitee), "/invitation");
      clock.advance(2 * 86_400_000);
      const expired = await fetch(first);
      assert.equal(expired.status, 400);
      assert.match(await expired.text(), /expired/);
      const [row] = await stack.database.db
        .select()
        .from(invitations)
        .where(eq(invitations.email, invitee));
      const resent = await fetch(
        `${base()}/auth/admin/invitations/${row?.id}/resend`,
        postJson({}, cookie),
      );
      assert.equal(resent.status, 200);
      const second = linkTo(await smtp.next(invitee), "/invitation");
      assert.equal((await fetch(first)).status, 400, "the old link died");
      assert.equal((await fetch(second)).status, 200);
      const asked = await fetch(
        `${base()}/auth/admin/invitations/${row?.id}/revoke`,
        postForm({}, cookie),
      );
      assert.equal(asked.status, 200);
      assert.match(await asked.text(), /name="confirm" value="yes"/);
      const revoked = await fetch(
        `${base()}/auth/admin/invitations/${row?.id}/revoke`,
        postForm({ confirm: "yes" }, cookie),
      );
      assert.equal(revoked.status, 303);
      const dead = await fetch(second);
      assert.equal(dead.status, 400);
      assert.match(await dead.text(), /withdrawn/);
      const list = await bodyOf(
        await fetch(`${base()}/auth/admin/invitations`, {
          headers: { accept: "application/json", cookie },
        }),
      );
      assert.equal(
        list.invitations.find((one: { email: string }) => one.email === invitee).status,
        "revoked",
      );
    });

    test("a provider's verified address uses up the invitation and gets its roles", async () => {
      const invitee = uniqueEmail("oidc");
      await stack.server.gatehouse.invitations.create(
        { email: invitee, roles: ["ops"] },
        { actorId: "t" },
      );
      assert.equal(await stack.server.gatehouse.invitations.invited(invitee), true);
      const id = crypto.randomUUID();
      await stack.database.db.insert(users).values({ id, email: invitee, emailVerified: true });
      assert.deepEqual(
        await stack.server.gatehouse.invitations.providerRegistered(id, invitee, true),
        ["ops"],
      );
      assert.equal(await stack.server.gatehouse.invitations.invited(invitee), false, "used up");
      const [row] = await stack.database.db.select().from(users).where(eq(users.id, id));
      assert.deepEqual(row?.roles, ["ops"]);
    });

    test("bad invitation input is a 4xx", async () => {
      const cookie = await admin();
      for (const body of [
        { email: "a@b@example.test" },
        { email: "x@example.test", roles: ["no spaces"] },
        { email: "x@example.test", expiresInDays: 1000 },
        { email: "x@example.test", expiresInDays: "soon" },
        { email: ["a@example.test", "b@example.test"] },
      ]) {
        const response = await fetch(`${base()}/auth/admin/invitations`, postJson(body, cookie));
        assert.equal(response.status, 400, JSON.stringify(body));
      }
      for (const token of ["", "x", "a".repeat(43), "../../etc"]) {
        const response = await fetch(
          `${base()}/auth/invitation?token=${encodeURIComponent(token)}`,
        );
        assert.equal(response.status, 400, token);
      }
    });
  },
  { clock },
);

describeOnEachBackend(
  "REGISTRATION_MODE=domains",
  { REGISTRATION_MODE: "domains", REGISTRATION_DOMAINS: "example.com,*.corp.example" },
  (stack) => {
    test("the password form accepts the domains and refuses tricks, without saying whether an account exists", async () => {
      for (const email of [`ok.${Date.now()}@example.com`, `ok.${Date.now()}@eu.corp.example`]) {
        const response = await fetch(
          `${stack.server.url}/auth/register`,
          postJson({ email, password: GOOD_PASSWORD }),
        );
        assert.equal(response.status, 201, email);
      }
      for (const email of [
        "me@example.com.evil.test",
        "me@evilexample.com",
        "me@corp.example",
        `me@evil.test@example.com`,
      ]) {
        const response = await fetch(
          `${stack.server.url}/auth/register`,
          postJson({ email, password: GOOD_PASSWORD }),
        );
        assert.ok(
          response.status === 403 || response.status === 400,
          `${email}: ${response.status}`,
        );
      }
    });
  },
);

describeOnEachBackend(
  "REGISTRATION_MODE=domains, an address claimed but not proven",
  { REGISTRATION_MODE: "domains", REGISTRATION_DOMAINS: "example.com" },
  (stack) => {
    test("a stranger naming someone's address at the domain gets no session until it is proven", async () => {
      const base = stack.server.url;
      const email = `ceo.${Date.now()}@example.com`;
      const registered = await fetch(
        `${base}/auth/register`,
        postJson({ email, password: GOOD_PASSWORD }),
      );
      assert.equal(registered.status, 201);
      assert.deepEqual(registered.headers.getSetCookie(), [], "registering signs nobody in");
      const refused = await login(base, email);
      assert.equal(refused.status, 403);
      assert.equal((await bodyOf(refused)).error.code, "email_not_verified");
      assert.deepEqual(refused.headers.getSetCookie(), []);
      // The address's owner follows the mailed link: then the password signs in.
      await markVerified(stack.server, email);
      const signedIn = await login(base, email);
      assert.equal(signedIn.status, 200);
      const cookie = signedIn.headers.getSetCookie()[0]?.split(";")[0] as string;
      assert.equal((await askResolve(base, "/", { cookie })).status, 200);
    });
  },
);

describeOnEachBackend("REGISTRATION_MODE=closed", { REGISTRATION_MODE: "closed" }, (stack) => {
  test("nobody registers, and invitations are refused", async () => {
    const response = await fetch(
      `${stack.server.url}/auth/register`,
      postJson({ email: uniqueEmail(), password: GOOD_PASSWORD }),
    );
    assert.equal(response.status, 403);
    await assert.rejects(
      stack.server.gatehouse.invitations.create(
        { email: uniqueEmail(), roles: [] },
        { actorId: "t" },
      ),
      /closed/,
    );
  });
});
