// An invitation accepted with a passkey instead of a password, on both
// databases, with a software authenticator and a real SMTP listener: the
// mailed link's page offers the passkey form, the ceremony's options name
// the account the invitation will create, the answer creates it (verified,
// with the roles, no password) and signs it in as a passkey sign-in; bad
// answers are 400s that create nothing, and the link works once.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { eq } from "drizzle-orm";
import { passwordCredentials, users, webauthnCredentials } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { askResolve, bodyOf, sessionCookie, uniqueEmail } from "../helpers/gatehouse.ts";
import { postForm, postJson } from "../helpers/http.ts";
import { linkTo, startSmtp } from "../helpers/smtp.ts";
import { createSoftAuthenticator } from "../helpers/soft-authenticator.ts";

const ORIGIN = "http://localhost:4444";
const authenticator = createSoftAuthenticator("localhost", ORIGIN);
const smtp = await startSmtp();
after(() => smtp.stop());

describeOnEachBackend(
  "an invitation accepted with a passkey",
  {
    REGISTRATION_MODE: "invite",
    SMTP_URL: smtp.url,
    WEBAUTHN_RP_ID: "localhost",
    WEBAUTHN_ORIGINS: ORIGIN,
  },
  (stack) => {
    const url = (path: string) => `${stack.server.url}/auth${path}`;

    async function invite(roles: string[]) {
      const email = uniqueEmail("invited-passkey");
      const made = await stack.server.gatehouse.invitations.create(
        { email, roles },
        { actorId: "cli" },
      );
      const link = linkTo(await smtp.next(email), "/invitation");
      return { email, id: made.id, token: link.searchParams.get("token") as string, link };
    }

    const optionsFor = (token: string) =>
      fetch(url(`/invitation/passkey/options?token=${encodeURIComponent(token)}`), postJson({}));
    const cookieOf = (response: Response) =>
      (response.headers.getSetCookie()[0] ?? "").split(";")[0] as string;

    test("the link's page offers a passkey; the passkey creates the account with the roles, once", async () => {
      const invited = await invite(["editor"]);
      const page = await (await fetch(invited.link)).text();
      assert.match(page, /data-passkey="register"/);
      assert.match(page, /Create my account with a passkey/);

      const options = await optionsFor(invited.token);
      assert.equal(options.status, 200);
      const body = (await bodyOf(options)).options;
      assert.equal(body.user.name, invited.email);
      const made = authenticator.register(body);
      const accepted = await fetch(
        url("/invitation/passkey"),
        postForm(
          {
            token: invited.token,
            name: "Ivy",
            passkeyName: "Phone",
            response: JSON.stringify(made.response),
          },
          cookieOf(options),
        ),
      );
      assert.equal(accepted.status, 303, await accepted.clone().text());
      const session = sessionCookie(accepted);
      const resolved = await askResolve(stack.server.url, "/x", { cookie: session });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-roles"), "editor");
      assert.equal(resolved.headers.get("x-auth-email-verified"), "true");
      assert.equal(resolved.headers.get("x-auth-method"), "passkey");
      assert.equal(resolved.headers.get("x-auth-mfa"), "true");

      const [user] = await stack.database.db
        .select()
        .from(users)
        .where(eq(users.email, invited.email));
      assert.equal(user?.name, "Ivy");
      const keys = await stack.database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, user?.id as string));
      assert.deepEqual(
        keys.map((key) => key.name),
        ["Phone"],
      );
      const passwords = await stack.database.db
        .select()
        .from(passwordCredentials)
        .where(eq(passwordCredentials.userId, user?.id as string));
      assert.equal(passwords.length, 0, "no password");

      // The passkey signs in on its own afterwards.
      const login = await fetch(url("/passkeys/login/options"), postJson({}));
      const signedIn = await fetch(
        url("/passkeys/login"),
        postJson(
          {
            response: authenticator.assert(made.passkey, (await bodyOf(login)).options.challenge),
          },
          cookieOf(login),
        ),
      );
      assert.equal(signedIn.status, 200);

      // Single use.
      const again = await optionsFor(invited.token);
      assert.equal(again.status, 400);
      assert.match((await bodyOf(again)).error.message, /used already/);
    });

    test("bad answers are 400s that create nothing; the invitation still works afterwards", async () => {
      const invited = await invite([]);
      const accountCount = async () =>
        (await stack.database.db.select().from(users).where(eq(users.email, invited.email))).length;
      const attempts: [string, (challenge: string, user: { id: string }) => unknown][] = [
        ["malformed", () => ({ id: "x", response: {} })],
        [
          "wrong challenge",
          (_challenge, user) =>
            authenticator.register({ challenge: "AAAA", user }, { challenge: "AAAA" }).response,
        ],
        [
          "wrong origin",
          (challenge, user) =>
            authenticator.register({ challenge, user }, { origin: "https://evil.example" })
              .response,
        ],
      ];
      for (const [label, answer] of attempts) {
        const options = await optionsFor(invited.token);
        const body = (await bodyOf(options)).options;
        const response = await fetch(
          url("/invitation/passkey"),
          postJson(
            {
              token: invited.token,
              passkeyName: "Key",
              response: answer(body.challenge, body.user),
            },
            cookieOf(options),
          ),
        );
        assert.equal(response.status, 400, label);
        assert.ok((await bodyOf(response)).error.message, label);
        assert.equal(await accountCount(), 0, label);
      }
      // Without the ceremony's cookie (another browser's answer): refused too.
      const options = await optionsFor(invited.token);
      const stray = await fetch(
        url("/invitation/passkey"),
        postJson({
          token: invited.token,
          passkeyName: "Key",
          response: authenticator.register((await bodyOf(options)).options).response,
        }),
      );
      assert.equal(stray.status, 400);
      assert.equal(await accountCount(), 0);
      // A revoked invitation gives no options.
      await stack.server.gatehouse.invitations.revoke(invited.id, { actorId: "cli" });
      assert.equal((await optionsFor(invited.token)).status, 400);
    });

    test("attack: one credential answering two invitations at once is a 400 for one of them, never a 500", async () => {
      const credentialId = Buffer.alloc(32, 7);
      const tries = await Promise.all(
        [await invite([]), await invite([])].map(async (invited) => {
          const options = await optionsFor(invited.token);
          const made = authenticator.register((await bodyOf(options)).options, { credentialId });
          return { invited, cookie: cookieOf(options), response: made.response };
        }),
      );
      const answers = await Promise.all(
        tries.map(({ invited, cookie, response }) =>
          fetch(
            url("/invitation/passkey"),
            postJson(
              { token: invited.token, name: "Mallory", passkeyName: "Key", response },
              cookie,
            ),
          ),
        ),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      assert.deepEqual(statuses, [201, 400], JSON.stringify(statuses));
      const stored = await stack.database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.credentialId, credentialId.toString("base64url")));
      assert.equal(stored.length, 1);
    });
  },
);
