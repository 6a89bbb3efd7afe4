// Two replicas sharing a database and a real Redis: when a provider token
// expires and requests for the same user arrive at both at once, the
// provider sees one refresh, and every answer carries the same new token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { manualClock } from "../helpers/clock.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import {
  askResolve,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";
import { startRedis } from "../helpers/redis-server.ts";

let redis: Awaited<ReturnType<typeof startRedis>>;
let provider: RunningOidcProvider;
let database: DatabaseHandle;
const connections: SharedRedis[] = [];
const replicas: RunningGatehouse[] = [];
const clock = manualClock();

before(async () => {
  const ports = [await freePort(), await freePort()];
  [redis, provider, database] = await Promise.all([
    startRedis(),
    startOidcProvider({
      redirectUris: ports.map((port) => `http://127.0.0.1:${port}/auth/oauth/idp/callback`),
    }),
    openDatabase({ kind: "pglite" }),
  ]);
  for (const port of ports) {
    const env = {
      REDIS_URL: redis.url,
      OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET, scopes: [openid, email, offline_access] }]`,
      IDP_SECRET: provider.clientSecret,
      RULES: "[{ path: /api/**, upstream_token: { provider: idp } }]",
    };
    const shared = connectRedis(loadConfig(env), createLogger("silent")) as SharedRedis;
    for (let i = 0; i < 100 && !shared.isReady(); i++) await new Promise((r) => setTimeout(r, 50));
    connections.push(shared);
    replicas.push(await startGatehouse(database, env, { clock, port, redis: shared }));
  }
});

after(async () => {
  for (const replica of replicas) await replica.stop();
  for (const shared of connections) await shared.close();
  await database?.close();
  await provider?.stop();
  await redis?.stop();
});

test("an expired token asked for at two replicas at once is refreshed once", async () => {
  const [a, b] = replicas as [RunningGatehouse, RunningGatehouse];
  const email = uniqueEmail("replicas");
  provider.nextUser({ sub: `sub-${email}`, email, email_verified: true });
  const browser = new CookieBrowser();
  await browser.follow(`${a.url}/auth/oauth/idp`, {}, (next) => next.pathname === "/");
  const cookie = `gatehouse_session=${browser.cookies.get("gatehouse_session")}`;
  const first = await askResolve(a.url, "/api/x", { cookie });
  assert.equal(first.status, 200);
  // Both replicas have the token in memory now.
  assert.equal(
    (await askResolve(b.url, "/api/x", { cookie })).headers.get("authorization"),
    first.headers.get("authorization"),
  );

  const before = provider.tokenRequests.refresh_token;
  clock.advance(3600 * 1000);
  const answers = await Promise.all(
    Array.from({ length: 16 }, (_, i) => askResolve((i % 2 ? a : b).url, "/api/x", { cookie })),
  );
  assert.deepEqual(
    answers.map((answer) => answer.status),
    Array(16).fill(200),
  );
  const tokens = new Set(answers.map((answer) => answer.headers.get("authorization")));
  assert.equal(tokens.size, 1, "every answer carries the same new token");
  assert.notEqual([...tokens][0], first.headers.get("authorization"));
  assert.equal(provider.tokenRequests.refresh_token - before, 1, "the provider saw one refresh");
});
