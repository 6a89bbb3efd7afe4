// The session service against each store: expiry, sliding renewal that writes
// only past half the idle window, revocation, and disabled users.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { sessions as sessionsTable, users } from "../../src/db/schema.ts";
import { createSessionService } from "../../src/sessions/service.ts";
import { type SessionStore, sqlSessionStore } from "../../src/sessions/store.ts";
import { hashToken } from "../../src/sessions/tokens.ts";
import { backends } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";

const HOUR = 3600;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

async function newUser(database: DatabaseHandle): Promise<string> {
  const id = crypto.randomUUID();
  await database.db.insert(users).values({ id, email: `${id}@example.test` });
  return id;
}

for (const backend of backends) {
  describe(`session store contract (${backend.name})`, () => {
    let database: DatabaseHandle;
    before(async () => {
      database = await backend.open();
    });
    after(() => database.close());

    function service(options: { cacheTtlSeconds?: number } = {}) {
      const clock = manualClock();
      const store = sqlSessionStore(database.db);
      let touches = 0;
      let seen = 0;
      let seenWrites = 0;
      const counting: SessionStore = {
        ...store,
        touch: (id, at) => {
          touches++;
          return store.touch(id, at);
        },
        seen: (ids, at) => {
          seen += ids.length;
          seenWrites++;
          return store.seen(ids, at);
        },
      };
      const sessions = createSessionService({
        store: counting,
        clock,
        idleTimeoutSeconds: 2 * HOUR,
        maxAgeSeconds: 5 * HOUR,
        cacheTtlSeconds: options.cacheTtlSeconds ?? 0,
        cacheMax: 100,
      });
      return {
        sessions,
        clock,
        touches: () => touches,
        seen: () => seen,
        seenWrites: () => seenWrites,
      };
    }

    test("the cookie token is not stored; only its SHA-256", async () => {
      const { sessions } = service();
      const userId = await newUser(database);
      const { token } = await sessions.create(userId, "password");
      const rows = await database.db
        .select()
        .from(sessionsTable)
        .where(eq(sessionsTable.userId, userId));
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.id, hashToken(token));
      assert.ok(!JSON.stringify(rows).includes(token));
    });

    for (const cacheTtlSeconds of [0, 60]) {
      test(`idle expiry, sliding renewal and absolute expiry (cache ${cacheTtlSeconds ? "on" : "off"})`, async () => {
        const { sessions, clock, touches } = service({ cacheTtlSeconds });
        const userId = await newUser(database);
        const { token } = await sessions.create(userId, "password");
        assert.ok(await sessions.validate(token));
        clock.advance(0.4 * 2 * HOUR * 1000); // before half the idle window: no write
        assert.ok(await sessions.validate(token));
        assert.equal(touches(), 0);
        clock.advance(0.2 * 2 * HOUR * 1000); // past half: one write, then none
        assert.ok(await sessions.validate(token));
        assert.ok(await sessions.validate(token));
        assert.equal(touches(), 1);
        await settle();
        const [row] = await database.db
          .select()
          .from(sessionsTable)
          .where(eq(sessionsTable.id, hashToken(token)));
        assert.equal(
          row?.idleExpiresAt.getTime(),
          clock.now() + 2 * HOUR * 1000,
          "renewal reached the store",
        );
        // Idle for longer than the window: gone.
        clock.advance(2.1 * HOUR * 1000);
        assert.equal(await sessions.validate(token), null);
      });
    }

    for (const cacheTtlSeconds of [0, 60]) {
      test(`"last seen" is written in the background at most every five minutes (cache ${cacheTtlSeconds ? "on" : "off"})`, async () => {
        const { sessions, clock, seen } = service({ cacheTtlSeconds });
        const userId = await newUser(database);
        const { token } = await sessions.create(userId, "password");
        const lastSeen = async () => {
          await settle();
          const [row] = await database.db
            .select()
            .from(sessionsTable)
            .where(eq(sessionsTable.id, hashToken(token)));
          return row?.lastSeenAt?.getTime();
        };
        assert.equal(await lastSeen(), undefined, "not seen before its first request");
        assert.ok(await sessions.validate(token));
        assert.equal(await lastSeen(), clock.now());
        const first = clock.now();
        clock.advance(4 * 60 * 1000);
        for (let i = 0; i < 5; i++) assert.ok(await sessions.validate(token));
        assert.equal(seen(), 1, "one write in five minutes, however busy");
        assert.equal(await lastSeen(), first);
        clock.advance(60 * 1000 + 1);
        assert.ok(await sessions.validate(token));
        await settle(); // written in the background, batched
        assert.equal(seen(), 2);
        assert.equal(await lastSeen(), clock.now());
      });
    }

    test(`sessions coming due for "last seen" together are written together`, async () => {
      const { sessions, seen, seenWrites } = service({ cacheTtlSeconds: 60 });
      const userId = await newUser(database);
      const tokens = await Promise.all(
        Array.from({ length: 40 }, async () => (await sessions.create(userId, "password")).token),
      );
      await Promise.all(tokens.map((token) => sessions.validate(token)));
      await settle();
      assert.equal(seen(), 40);
      assert.ok(seenWrites() <= 3, `${seenWrites()} statements for 40 sessions`);
      const rows = await database.db
        .select()
        .from(sessionsTable)
        .where(eq(sessionsTable.userId, userId));
      assert.equal(rows.filter((row) => row.lastSeenAt !== null).length, 40);
    });

    test("activity never extends a session past its absolute expiry", async () => {
      const { sessions, clock } = service();
      const userId = await newUser(database);
      const { token } = await sessions.create(userId, "password");
      for (let hour = 1; hour <= 4; hour++) {
        clock.advance(HOUR * 1000);
        assert.ok(await sessions.validate(token), `hour ${hour}`);
        await settle(); // the renewal is written in the background; an hour passes before the next request
      }
      clock.advance(1.01 * HOUR * 1000);
      assert.equal(await sessions.validate(token), null);
    });

    test("revocation: one session, or all but the current one, even when cached", async () => {
      const { sessions } = service({ cacheTtlSeconds: 60 });
      const userId = await newUser(database);
      const a = await sessions.create(userId, "password");
      const b = await sessions.create(userId, "password");
      const c = await sessions.create(userId, "password");
      for (const s of [a, b, c]) assert.ok(await sessions.validate(s.token));
      await sessions.revoke(a.session.id);
      assert.equal(await sessions.validate(a.token), null);
      assert.equal(await sessions.revokeAllForUser(userId, c.session.id), 1);
      assert.equal(await sessions.validate(b.token), null);
      assert.ok(await sessions.validate(c.token));
      assert.deepEqual(
        (await sessions.list(userId)).map((s) => s.id),
        [c.session.id],
      );
    });

    test("a disabled user's sessions stop resolving", async () => {
      const { sessions } = service();
      const userId = await newUser(database);
      const { token } = await sessions.create(userId, "password");
      await database.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, userId));
      assert.equal(await sessions.validate(token), null);
    });

    test("tokens that are not ours are refused before any lookup", async () => {
      const { sessions } = service();
      for (const token of [undefined, "", "short", `${"a".repeat(42)}!`, "a".repeat(44)]) {
        assert.equal(await sessions.validate(token), null);
      }
    });
  });
}

test("the embedded database keeps everything across a restart", async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "gatehouse-data-")), "data");
  const first = await openDatabase({ kind: "pglite", dataDir });
  const userId = await newUser(first);
  const sessions = createSessionService({
    store: sqlSessionStore(first.db),
    idleTimeoutSeconds: HOUR,
    maxAgeSeconds: HOUR,
    cacheTtlSeconds: 0,
    cacheMax: 0,
  });
  const { token } = await sessions.create(userId, "password");
  await first.close();
  const second = await openDatabase({ kind: "pglite", dataDir });
  try {
    const again = createSessionService({
      store: sqlSessionStore(second.db),
      idleTimeoutSeconds: HOUR,
      maxAgeSeconds: HOUR,
      cacheTtlSeconds: 0,
      cacheMax: 0,
    });
    const resolved = await again.validate(token);
    assert.equal(resolved?.user.id, userId);
  } finally {
    await second.close();
  }
});
