// Back-channel logout on two replicas sharing a database and a real Redis,
// on both storage backends: the provider (oidc-provider) posts its logout
// token to replica A; replica B, which holds the session in memory for a
// minute, must refuse it within 100 ms, so the revocation can only have
// come through the revocation messages. The user's API key keeps working.
// The logout token's jti is kept in Redis: a replay at the other replica is
// refused too.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { backends } from "../helpers/backends.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import {
  askResolve,
  bodyOf,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";
import { startRedis } from "../helpers/redis-server.ts";

const WITHIN_MS = 100;

for (const backend of backends) {
  describe(`back-channel logout on two replicas sharing Redis (${backend.name})`, () => {
    let redis: Awaited<ReturnType<typeof startRedis>>;
    let provider: RunningOidcProvider;
    let database: DatabaseHandle;
    const connections: SharedRedis[] = [];
    const replicas: RunningGatehouse[] = [];

    before(async () => {
      // One public URL for both (as behind a load balancer); A takes the provider's calls.
      const ports = [await freePort(), await freePort()];
      const [a] = ports.map((port) => `http://127.0.0.1:${port}`) as [string];
      [redis, provider, database] = await Promise.all([
        startRedis(),
        startOidcProvider({
          redirectUris: [`${a}/auth/oauth/idp/callback`],
          backchannelLogoutUri: `${a}/auth/oauth/idp/backchannel-logout`,
        }),
        backend.open(),
      ]);
      for (const port of ports) {
        const env = {
          PUBLIC_URL: a,
          REDIS_URL: redis.url,
          SESSION_CACHE_TTL: "60s",
          OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET }]`,
          IDP_SECRET: provider.clientSecret,
        };
        const shared = connectRedis(loadConfig(env), createLogger("silent")) as SharedRedis;
        for (let i = 0; i < 100 && !shared.isReady(); i++)
          await new Promise((r) => setTimeout(r, 50));
        connections.push(shared);
        replicas.push(await startGatehouse(database, env, { port, redis: shared }));
      }
    });

    after(async () => {
      for (const replica of replicas) await replica.stop();
      for (const shared of connections) await shared.close();
      await database?.close();
      await provider?.stop();
      await redis?.stop();
    });

    test("the provider's admin ends the session: both replicas refuse it within 100 ms, the API key stays", async (t) => {
      const [a, b] = replicas as [RunningGatehouse, RunningGatehouse];
      const email = uniqueEmail("backchannel");
      const sub = `sub-${email}`;
      provider.nextUser({ sub, email, email_verified: true });
      const browser = new CookieBrowser();
      await browser.follow(
        `${a.url}/auth/oauth/idp`,
        {},
        (next) => next.pathname === "/auth/account",
      );
      const cookie = `gatehouse_session=${browser.cookies.get("gatehouse_session")}`;
      const created = await fetch(`${a.url}/auth/api-keys`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({ name: "deploy" }),
      });
      assert.equal(created.status, 201);
      const { key } = await bodyOf(created);
      // Both replicas hold the session in memory now.
      for (const replica of [a, b])
        assert.equal((await askResolve(replica.url, "/", { cookie })).status, 200);

      const started = performance.now();
      await provider.endSessionsOf(sub);
      assert.deepEqual(provider.backchannel.error, []);
      const answered = performance.now();
      const signedOutAt = await Promise.all(
        [a, b].map(async (replica) => {
          for (;;) {
            const status = (await askResolve(replica.url, "/", { cookie })).status;
            if (status === 401) return performance.now() - answered;
            assert.equal(status, 200);
            if (performance.now() - answered > 2_000) return Number.POSITIVE_INFINITY;
          }
        }),
      );
      const slowest = Math.max(...signedOutAt);
      t.diagnostic(
        `logout token posted and answered in ${(answered - started).toFixed(1)} ms; refused after A ${signedOutAt[0]?.toFixed(1)} ms, B ${signedOutAt[1]?.toFixed(1)} ms`,
      );
      assert.ok(
        slowest <= WITHIN_MS,
        `both replicas refuse the session within ${WITHIN_MS} ms of the provider's answer (A ${signedOutAt[0]?.toFixed(1)} ms, B ${signedOutAt[1]?.toFixed(1)} ms; the whole logout took ${(answered - started).toFixed(1)} ms)`,
      );
      for (const replica of [a, b]) {
        const byKey = await askResolve(replica.url, "/", { authorization: `Bearer ${key}` });
        assert.equal(byKey.status, 200, "the API key is not a session: it stays");
      }
    });

    test("a logout token replayed at the other replica is refused (the jti is kept in Redis)", async () => {
      const [a, b] = replicas as [RunningGatehouse, RunningGatehouse];
      const token = await provider.signLogoutToken({ sub: `sub-${crypto.randomUUID()}` });
      const post = (base: string) =>
        fetch(`${base}/auth/oauth/idp/backchannel-logout`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ logout_token: token }).toString(),
        });
      assert.equal((await post(a.url)).status, 200);
      const replay = await post(b.url);
      assert.equal(replay.status, 400);
      assert.match((await bodyOf(replay)).error_description, /used before/);
    });
  });
}
