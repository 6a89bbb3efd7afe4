// Passkeys over HTTP, on both databases, with a software authenticator that
// writes what a browser would and what none should: every bad answer
// (malformed attestation or assertion, another challenge, another origin, a
// replay, a counter going backwards, another account's passkey) is a 400
// with a message, never a 500, and changes nothing stored.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { auditEvents, users, webauthnCredentials } from "../../src/db/schema.ts";
import { backends } from "../helpers/backends.ts";
import { type ManualClock, manualClock } from "../helpers/clock.ts";
import {
  bodyOf,
  markVerified,
  type RunningGatehouse,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postJson } from "../helpers/http.ts";
import { createSoftAuthenticator, type SoftPasskey } from "../helpers/soft-authenticator.ts";

const ORIGIN = "http://localhost:4444";
const env = { WEBAUTHN_RP_ID: "localhost", WEBAUTHN_ORIGINS: ORIGIN };
const authenticator = createSoftAuthenticator("localhost", ORIGIN);

/** "name=value" of the cookie a response set, by the end of its name. */
function cookieNamed(response: Response, suffix: string): string {
  const header = response.headers
    .getSetCookie()
    .find((cookie) => cookie.split("=")[0]?.endsWith(suffix) && !/Max-Age=0/i.test(cookie));
  if (!header) throw new Error(`no ${suffix} cookie in ${response.status}`);
  return header.split(";")[0] as string;
}

for (const backend of backends) {
  describe(`passkeys over HTTP (${backend.name})`, () => {
    let database: DatabaseHandle;
    let server: RunningGatehouse;
    let clock: ManualClock;
    const url = (path: string) => `${server.url}/auth${path}`;

    before(async () => {
      database = await backend.open();
      clock = manualClock();
      server = await startGatehouse(database, env, { clock });
    });
    after(async () => {
      await server?.stop();
      await database?.close();
    });

    /** A verified account, signed in with its password just now. */
    async function account() {
      const email = uniqueEmail("passkey");
      const session = await register(server.url, email);
      await markVerified(server, email);
      const [user] = await database.db.select().from(users).where(eq(users.email, email));
      return { email, session, id: (user as { id: string }).id };
    }

    async function registrationOptions(session: string) {
      const response = await fetch(url("/passkeys/register/options"), postJson({}, session));
      assert.equal(response.status, 200, await response.clone().text());
      return {
        options: (await bodyOf(response)).options,
        cookie: cookieNamed(response, "_register"),
      };
    }

    async function enrol(who: { session: string }, name = "key"): Promise<SoftPasskey> {
      const { options, cookie } = await registrationOptions(who.session);
      const made = authenticator.register(options);
      const response = await fetch(
        url("/passkeys/register"),
        postJson({ name, response: made.response }, `${who.session}; ${cookie}`),
      );
      assert.equal(response.status, 201, await response.clone().text());
      return made.passkey;
    }

    async function signInOptions() {
      const response = await fetch(url("/passkeys/login/options"), postJson({}));
      assert.equal(response.status, 200);
      return {
        challenge: (await bodyOf(response)).options.challenge as string,
        cookie: cookieNamed(response, "_login"),
      };
    }

    const signIn = (response: unknown, cookie?: string) =>
      fetch(url("/passkeys/login"), postJson({ response }, cookie));

    const stored = (userId: string) =>
      database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, userId))
        .orderBy(webauthnCredentials.createdAt);

    /** A 400 with a message that says `pattern`. */
    async function refused(response: Response, pattern: RegExp) {
      const text = await response.text();
      assert.equal(response.status, 400, text);
      const body = JSON.parse(text);
      assert.equal(body.error.code, "invalid_request");
      assert.match(body.error.message, pattern);
    }

    test("enrol a passkey, then sign in with it alone", async () => {
      const who = await account();
      const passkey = await enrol(who, "Laptop");
      const listed = await bodyOf(
        await fetch(url("/passkeys"), { headers: { cookie: who.session } }),
      );
      assert.deepEqual(
        listed.passkeys.map((p: { name: string }) => p.name),
        ["Laptop"],
      );
      const { challenge, cookie } = await signInOptions();
      const response = await signIn(authenticator.assert(passkey, challenge), cookie);
      assert.equal(response.status, 200, await response.clone().text());
      const me = await bodyOf(
        await fetch(url("/userinfo"), { headers: { cookie: sessionCookie(response) } }),
      );
      assert.equal(me.id, who.id);
      assert.equal(me.method, "passkey");
      assert.equal((await stored(who.id))[0]?.counter, 1);
    });

    test("malformed attestations are refused and store nothing", async () => {
      const who = await account();
      const cases: [unknown, RegExp][] = [
        [undefined, /navigator\.credentials/],
        ["{not json", /not valid JSON/],
        [42, /navigator\.credentials/],
        [{ id: "abc" }, /malformed/],
        [
          {
            id: "a",
            rawId: "a",
            type: "public-key",
            response: { clientDataJSON: "%%%", attestationObject: "AA" },
          },
          /base64url/,
        ],
      ];
      for (const [response, pattern] of cases) {
        const { cookie } = await registrationOptions(who.session);
        await refused(
          await fetch(
            url("/passkeys/register"),
            postJson({ name: "x", response }, `${who.session}; ${cookie}`),
          ),
          pattern,
        );
      }
      // Well-formed JSON whose bytes are garbage: the library's reason, still a 400.
      const { options, cookie } = await registrationOptions(who.session);
      const made = authenticator.register(options);
      const garbage = {
        ...made.response,
        response: {
          ...made.response.response,
          attestationObject: Buffer.from("not cbor at all").toString("base64url"),
        },
      };
      await refused(
        await fetch(
          url("/passkeys/register"),
          postJson({ name: "x", response: garbage }, `${who.session}; ${cookie}`),
        ),
        /could not be verified/,
      );
      assert.equal((await stored(who.id)).length, 0);
    });

    test("an attestation for another challenge, origin or ceremony is refused", async () => {
      const who = await account();
      for (const overrides of [
        { challenge: "c29tZSBvdGhlciBjaGFsbGVuZ2U" },
        { origin: "https://evil.example" },
        { origin: "http://localhost:4445" },
        { type: "webauthn.get" },
      ]) {
        const { options, cookie } = await registrationOptions(who.session);
        const made = authenticator.register(options, overrides);
        await refused(
          await fetch(
            url("/passkeys/register"),
            postJson({ name: "x", response: made.response }, `${who.session}; ${cookie}`),
          ),
          /could not be verified/,
        );
      }
      // No challenge cookie at all, and one a failed answer already used.
      const { options, cookie } = await registrationOptions(who.session);
      const made = authenticator.register(options);
      const post = (response: unknown, cookies: string) =>
        fetch(url("/passkeys/register"), postJson({ name: "x", response }, cookies));
      await refused(await post(made.response, who.session), /expired or was already used/);
      const wrong = authenticator.register(options, { origin: "https://evil.example" });
      await refused(
        await post(wrong.response, `${who.session}; ${cookie}`),
        /could not be verified/,
      );
      await refused(
        await post(made.response, `${who.session}; ${cookie}`),
        /expired or was already used/,
      );
      assert.equal((await stored(who.id)).length, 0);
    });

    test("malformed assertions, other challenges and origins: 400, counter unchanged", async () => {
      const who = await account();
      const passkey = await enrol(who);
      const before = await stored(who.id);
      for (const response of [
        undefined,
        "[",
        { id: "x" },
        { id: "a", rawId: "a", type: "public-key", response: {} },
      ]) {
        const { cookie } = await signInOptions();
        await refused(
          await signIn(response, cookie),
          /navigator\.credentials|not valid JSON|malformed/,
        );
      }
      const valid = authenticator.assert(passkey, (await signInOptions()).challenge);
      const broken = {
        ...valid,
        response: { ...valid.response, signature: Buffer.from("nope").toString("base64url") },
      };
      await refused(await signIn(broken, (await signInOptions()).cookie), /could not be verified/);
      // Signed for a challenge this browser was not given.
      const other = await signInOptions();
      const { cookie } = await signInOptions();
      await refused(
        await signIn(authenticator.assert(passkey, other.challenge), cookie),
        /could not be verified/,
      );
      // Another origin.
      const fresh = await signInOptions();
      await refused(
        await signIn(
          authenticator.assert(passkey, fresh.challenge, { origin: "https://evil.example" }),
          fresh.cookie,
        ),
        /could not be verified/,
      );
      // Registration options do not sign anyone in.
      const reg = await registrationOptions(who.session);
      await refused(
        await signIn(
          authenticator.assert(passkey, reg.options.challenge),
          reg.cookie.replace("_register", "_login"),
        ),
        /expired or was already used/,
      );
      assert.deepEqual(await stored(who.id), before);
    });

    test("a replayed assertion is refused", async () => {
      const who = await account();
      const passkey = await enrol(who);
      const { challenge, cookie } = await signInOptions();
      const answer = authenticator.assert(passkey, challenge);
      assert.equal((await signIn(answer, cookie)).status, 200);
      const after = await stored(who.id);
      await refused(await signIn(answer, cookie), /expired or was already used/);
      await refused(await signIn(answer, (await signInOptions()).cookie), /could not be verified/);
      assert.deepEqual(await stored(who.id), after);
    });

    test("a sign counter going backwards is refused and audited", async () => {
      const who = await account();
      const passkey = await enrol(who);
      const first = await signInOptions();
      assert.equal(
        (await signIn(authenticator.assert(passkey, first.challenge, { counter: 5 }), first.cookie))
          .status,
        200,
      );
      const cloned = await signInOptions();
      await refused(
        await signIn(
          authenticator.assert(passkey, cloned.challenge, { counter: 3 }),
          cloned.cookie,
        ),
        /counter/,
      );
      const same = await signInOptions();
      await refused(
        await signIn(authenticator.assert(passkey, same.challenge, { counter: 5 }), same.cookie),
        /counter/,
      );
      assert.equal((await stored(who.id))[0]?.counter, 5);
      const events = await database.db
        .select()
        .from(auditEvents)
        .where(eq(auditEvents.userId, who.id));
      assert.ok(events.some((event) => event.type === "passkey.failed"));
    });

    test("another account's passkey: not signed in as someone else, not registered twice, not renamed or removed", async () => {
      const alice = await account();
      const bob = await account();
      const alicesKey = await enrol(alice, "Alice's");
      const aliceRows = await stored(alice.id);
      const bobsKey = await enrol(bob, "Bob's");
      // Alice's passkey naming Bob's account (a user handle it was never given).
      const options = await signInOptions();
      await refused(
        await signIn(
          authenticator.assert(alicesKey, options.challenge, {
            userHandle: bobsKey.userHandle as string,
          }),
          options.cookie,
        ),
        /does not belong/,
      );
      // Bob registering Alice's credential id: named in the answer only, or made with it.
      const reg = await registrationOptions(bob.session);
      const made = authenticator.register(reg.options);
      const stolen = {
        ...made.response,
        id: aliceRows[0]?.credentialId,
        rawId: aliceRows[0]?.credentialId,
      };
      await refused(
        await fetch(
          url("/passkeys/register"),
          postJson({ name: "mine", response: stolen }, `${bob.session}; ${reg.cookie}`),
        ),
        /not the one it was made with/,
      );
      const again = await registrationOptions(bob.session);
      const twin = authenticator.register(again.options, { credentialId: alicesKey.credentialId });
      await refused(
        await fetch(
          url("/passkeys/register"),
          postJson({ name: "mine", response: twin.response }, `${bob.session}; ${again.cookie}`),
        ),
        /already registered/,
      );
      // Bob renaming or removing Alice's passkey by its id.
      const id = aliceRows[0]?.id as string;
      const renamed = await fetch(url(`/passkeys/${id}`), {
        ...postJson({ name: "pwned" }, bob.session),
        method: "PATCH",
      });
      assert.equal(renamed.status, 404);
      const removed = await fetch(url(`/passkeys/${id}`), {
        method: "DELETE",
        headers: { cookie: bob.session },
      });
      assert.equal(removed.status, 404);
      assert.deepEqual(await stored(alice.id), aliceRows);
      assert.equal((await stored(bob.id)).length, 1);
    });

    test("adding or removing a passkey needs a sign-in within 5 minutes", async () => {
      const who = await account();
      await enrol(who);
      const [row] = await stored(who.id);
      clock.advance(6 * 60 * 1000);
      const options = await fetch(url("/passkeys/register/options"), postJson({}, who.session));
      assert.equal(options.status, 403);
      assert.equal((await bodyOf(options)).error.code, "reauthentication_required");
      const removed = await fetch(url(`/passkeys/${row?.id}`), {
        method: "DELETE",
        headers: { cookie: who.session },
      });
      assert.equal(removed.status, 403);
      assert.equal((await bodyOf(removed)).error.code, "reauthentication_required");
      assert.equal((await stored(who.id)).length, 1);
      // Renaming is not a change of factors: no fresh sign-in needed.
      const renamed = await fetch(url(`/passkeys/${row?.id}`), {
        ...postJson({ name: "Desk key" }, who.session),
        method: "PATCH",
      });
      assert.equal(renamed.status, 200);
      assert.equal((await stored(who.id))[0]?.name, "Desk key");
    });

    test("an unverified address cannot enrol", async () => {
      const session = await register(server.url, uniqueEmail("unverified"));
      const response = await fetch(url("/passkeys/register/options"), postJson({}, session));
      assert.equal(response.status, 403);
      assert.equal((await bodyOf(response)).error.code, "email_not_verified");
    });
  });
}
