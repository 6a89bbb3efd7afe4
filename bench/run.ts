// `npm run bench` (scripts/bench.sh): the targets of the resolver-core issue
// as ratios measured in one run on this machine, with compiled gatehouse on
// the Node running it. Starts everything on loopback (PostgreSQL, Redis,
// gatehouse processes, a raw node:http and a Hono no-op, the Express +
// connect-redis peer, nginx serving the application itself), seeds 10,000
// sessions, 200 API keys and 200 JWTs, measures resident memory on both
// databases, and drives load with wrk in interleaved rounds; each ratio is
// the median over the rounds. Bounded: about four minutes. Writes
// bench/results/report.json. `npm run bench -- --only xsrf` runs the XSRF
// check's cost alone (PostgreSQL and two gatehouse processes, about 30 s).
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { encode as encodeAuthjs } from "@auth/core/jwt";
import { Redis } from "ioredis";
import { openDatabase } from "../src/db/client.ts";
import { xsrfTokenFor } from "../src/sessions/xsrf.ts";
import { runNginx, startNginx } from "../test/helpers/nginx.ts";
import { freePort } from "../test/helpers/ports.ts";
import { startPostgres } from "../test/helpers/postgres-server.ts";
import { startRedis } from "../test/helpers/redis-server.ts";
import { startTokenIssuer } from "../test/helpers/token-issuer.ts";
import {
  CONNECTIONS,
  FORWARDED,
  fixedRate,
  headerSetsFile,
  headersFile,
  median,
  p99,
  SECONDS,
  touchAll,
  wrk,
  wrkRun,
} from "./load.ts";
import { cpuSeconds, memory, startGatehouse, startServer, stops } from "./processes.ts";
import { SESSIONS_PER_USER, seedExpress, seedGatehouse, USERS } from "./seed.ts";

const ROUNDS = 3;
const CREDENTIALS_OF_EACH_KIND = 200;
const AUTHJS_SECRET = "the Next.js app's AUTH_SECRET for the benchmark only";
const PROBE_RATE = 200;
const PROBE_SECONDS = 4;
const STORM_RATE = 300;
/** The cached nginx is also measured on a hot set: the sessions active within its 5 s validity. */
const HOT_SESSIONS = 200;
const SESSIONS = USERS * SESSIONS_PER_USER;
const SESSIONS_TEXT = SESSIONS.toLocaleString("en");

const work = mkdtempSync(join(tmpdir(), "gatehouse-bench-"));
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const asHeaders = (name: string, values: string[]) =>
  values.map((value) => [name, value] as [string, string]);

/**
 * gatehouse on the embedded database in a new directory: the peak of its
 * first start (creating the database), then, restarted on 10,000 seeded
 * sessions that have all been resolved once, its resident memory.
 */
async function embeddedMemory(env: Record<string, string>) {
  const dataDir = join(work, "embedded");
  const first = await startGatehouse({ ...env, DATA_DIR: dataDir });
  await sleep(1_000);
  const firstStart = memory(first.pid).peak;
  await first.stop();
  const database = await openDatabase({ kind: "pglite", dataDir });
  const { cookies } = await seedGatehouse(database.db, 0);
  await database.close();
  const server = await startGatehouse({ ...env, DATA_DIR: dataDir });
  await touchAll(`${server.url}/_resolve`, asHeaders("cookie", cookies));
  await sleep(2_000);
  const after = memory(server.pid);
  await server.stop();
  return { firstStartPeak: firstStart, rss: after.rss, peak: after.peak };
}

/**
 * The XSRF check on warm /_resolve: an unsafe request (X-Original-Method:
 * POST) with the session cookie, the XSRF cookie and a valid X-XSRF-TOKEN,
 * at a gatehouse with XSRF_PROTECTION on, against the same request at one
 * with it off; both answer every request from the in-process cache.
 */
async function xsrfScenario(
  env: Record<string, string>,
  cookies: string[],
  off?: { url: string; pid: number },
) {
  const without = off ?? (await startGatehouse(env));
  const withXsrf = await startGatehouse({ ...env, XSRF_PROTECTION: "true" });
  const sets = cookies.slice(0, HOT_SESSIONS).map((cookie): [string, string][] => {
    const token = xsrfTokenFor(cookie.slice(cookie.indexOf("=") + 1));
    return [
      ["Cookie", `${cookie}; XSRF-TOKEN=${token}`],
      ["X-XSRF-TOKEN", token],
    ];
  });
  // The same request to both: only the check differs.
  const file = headerSetsFile(work, "xsrf", sets);
  await touchAll(`${without.url}/_resolve`, asHeaders("cookie", cookies.slice(0, HOT_SESSIONS)));
  await touchAll(`${withXsrf.url}/_resolve`, asHeaders("cookie", cookies.slice(0, HOT_SESSIONS)));
  const post = { REQUEST_PATH: "/_resolve", ORIGINAL_METHOD: "POST" };
  /** Requests per second, and the server's CPU microseconds per request (robust to load from elsewhere). */
  const run = async (server: { url: string; pid: number }) => {
    const before = cpuSeconds(server.pid);
    const { rate, requests } = await wrkRun(`${server.url}/_resolve`, file, post);
    return { rate, cpuMicros: ((cpuSeconds(server.pid) - before) * 1e6) / requests };
  };
  return { off: () => run(without), on: () => run(withXsrf) };
}

const XSRF_ROUNDS = 6;
const XSRF_RESULT = "warm /_resolve POST, XSRF checked ÷ off (requests per CPU s)";

/** `--only xsrf`: the XSRF check's cost alone, in one short run. */
async function onlyXsrf() {
  log("starting PostgreSQL and two gatehouse processes (XSRF off, on) ...");
  const pg = await startPostgres();
  stops.push(() => pg.stop());
  const env = { DATABASE_URL: pg.url, SESSION_CACHE_TTL: "600s", OUTBOX_DIR: join(work, "outbox") };
  const first = await startGatehouse(env); // applies the migrations
  const database = await openDatabase({ kind: "postgres", url: pg.url, maxConnections: 2 });
  const seeded = await seedGatehouse(database.db, 0);
  await database.close();
  // Two fresh processes, alike but for the setting (the first one, which
  // applied the migrations, is not measured).
  await first.stop();
  const xsrf = await xsrfScenario(env, seeded.cookies);
  // Throughput on this shared machine swings with everyone else's load; the
  // CPU time each server spends per request does not: the ratio of those is
  // the throughput ratio a quiet machine would show.
  const ratios: number[] = [];
  const rates: number[] = [];
  for (let round = 1; round <= XSRF_ROUNDS; round++) {
    // In alternating order, so neither always runs after the other.
    type Run = Awaited<ReturnType<typeof xsrf.off>>;
    let off: Run;
    let on: Run;
    if (round % 2) {
      off = await xsrf.off();
      on = await xsrf.on();
    } else {
      on = await xsrf.on();
      off = await xsrf.off();
    }
    ratios.push(off.cpuMicros / on.cpuMicros);
    rates.push(on.rate / off.rate);
    log(
      `  round ${round}: XSRF off ${off.rate.toFixed(0)}/s, ${off.cpuMicros.toFixed(1)} µs CPU a request; checked ${on.rate.toFixed(0)}/s, ${on.cpuMicros.toFixed(1)} µs`,
    );
  }
  const result: Result = {
    name: XSRF_RESULT,
    value: median(ratios),
    target: { at: "least", goal: 0.95 },
  };
  console.log(
    `\n${result.name.padEnd(62)} ${shown(result).padStart(12)}  ${targetText(result.target).padEnd(16)} ${verdict(result)}`,
  );
  console.log(
    `  (CPU per request, off ÷ checked, median of ${XSRF_ROUNDS} rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")}; wall-clock throughput ratios ${rates.map((r) => r.toFixed(2)).join(", ")})`,
  );
}

async function main() {
  const startedAt = Date.now();
  log("starting PostgreSQL, Redis and the token issuer ...");
  const [pg, redis, issuer] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTokenIssuer(),
  ]);
  stops.push(
    () => pg.stop(),
    () => redis.stop(),
    () => issuer.stop(),
  );
  const common = {
    OUTBOX_DIR: join(work, "outbox"),
    // The storm stands for many attackers: the per-account and per-IP limits would
    // otherwise turn it into cheap 429s after a few dozen attempts.
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "10000",
    LOGIN_MAX_FAILURES_PER_IP: "100000",
    // Every measured request finds its session in the in-process cache.
    SESSION_CACHE_TTL: "600s",
  };

  log(`the embedded database: first start, then ${SESSIONS_TEXT} sessions ...`);
  const embedded = await embeddedMemory(common);

  log("starting gatehouse (compiled) and the servers it is compared with ...");
  const onPostgres = {
    ...common,
    DATABASE_URL: pg.url,
    TRUSTED_ISSUERS: JSON.stringify([{ issuer: issuer.issuer, audiences: ["bench"] }]),
    AUTHJS_SECRET: AUTHJS_SECRET,
  };
  const warm = await startGatehouse(onPostgres); // applies the migrations
  const viaRedis = await startGatehouse({
    ...onPostgres,
    SESSION_CACHE_TTL: "0",
    REDIS_URL: redis.url,
    // Long enough that every measured request finds its session in Redis.
    REDIS_CACHE_TTL: "600s",
  });
  const expressSecret = crypto.randomUUID();
  const [raw, hono, express] = await Promise.all([
    startServer("raw-noop.mjs"),
    startServer("hono-noop.mjs"),
    startServer("express-resolver.mjs", { REDIS_URL: redis.url, SESSION_SECRET: expressSecret }),
  ]);

  log(`seeding ${SESSIONS_TEXT} sessions, API keys and JWTs, and the Express peer's sessions ...`);
  const database = await openDatabase({ kind: "postgres", url: pg.url, maxConnections: 2 });
  const seeded = await seedGatehouse(database.db, CREDENTIALS_OF_EACH_KIND);
  await database.close();
  const expressCookies = await seedExpress(redis.url, expressSecret);
  const xsrf = await xsrfScenario(onPostgres, seeded.cookies, warm);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const jwts = await Promise.all(
    seeded.userIds
      .slice(0, CREDENTIALS_OF_EACH_KIND)
      .map((sub) => issuer.sign({ sub, aud: "bench", exp })),
  );
  // Auth.js v5 session cookies, minted by @auth/core as a Next.js app would.
  const authjsCookies = await Promise.all(
    seeded.userIds.slice(0, CREDENTIALS_OF_EACH_KIND).map(
      async (sub) =>
        `authjs.session-token=${await encodeAuthjs({
          token: { sub, email: `${sub}@example.test` },
          secret: AUTHJS_SECRET,
          salt: "authjs.session-token",
          maxAge: 3600,
        })}`,
    ),
  );
  const cookies = asHeaders("Cookie", seeded.cookies);
  const files = {
    cookies: headersFile(work, "cookies", cookies),
    oneCookie: headersFile(work, "one-cookie", cookies.slice(0, 1)),
    hot: headersFile(work, "hot", cookies.slice(0, HOT_SESSIONS)),
    keys: headersFile(
      work,
      "keys",
      asHeaders(
        "Authorization",
        seeded.apiKeys.map((key) => `Bearer ${key}`),
      ),
    ),
    jwts: headersFile(
      work,
      "jwts",
      asHeaders(
        "Authorization",
        jwts.map((jwt) => `Bearer ${jwt}`),
      ),
    ),
    express: headersFile(work, "express", asHeaders("Cookie", expressCookies)),
    authjs: headersFile(work, "authjs", asHeaders("Cookie", authjsCookies)),
  };

  log("starting nginx in four configurations, each serving the application itself ...");
  const application = (port: number) =>
    `server {\n    listen 127.0.0.1:${port};\n    location / { return 200; }\n}\n`;
  const nginxWith = async (options: { gatehousePort: number; authCache?: boolean }) => {
    const [port, appPort] = [await freePort(), await freePort()];
    const server = await startNginx({
      ...options,
      appPort,
      port,
      editSite: (site) => `${site}\n${application(appPort)}`,
    });
    stops.push(() => server.stop());
    return `http://127.0.0.1:${port}`;
  };
  const nginxGatehouse = await nginxWith({ gatehousePort: warm.port });
  const nginxNoop = await nginxWith({ gatehousePort: hono.port });
  const nginxCached = await nginxWith({ gatehousePort: warm.port, authCache: true });
  const [plainPort, plainAppPort] = [await freePort(), await freePort()];
  const plain = await runNginx({
    port: plainPort,
    files: {},
    http: `upstream app { server 127.0.0.1:${plainAppPort}; keepalive 32; }
server {
  listen 127.0.0.1:${plainPort};
  location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
}
${application(plainAppPort)}`,
  });
  stops.push(() => plain.stop());
  const nginxPlain = `http://127.0.0.1:${plainPort}`;

  // One pass over every credential, so the caches measured as warm are warm
  // (and the Redis process has every session).
  log("warming caches ...");
  await touchAll(`${warm.url}/_resolve`, cookies);
  await sleep(2_000);
  const onPostgresMemory = memory(warm.pid);
  await touchAll(
    `${warm.url}/_resolve`,
    asHeaders(
      "authorization",
      seeded.apiKeys.map((key) => `Bearer ${key}`),
    ),
  );
  await touchAll(
    `${warm.url}/_resolve`,
    asHeaders(
      "authorization",
      jwts.map((jwt) => `Bearer ${jwt}`),
    ),
  );
  await touchAll(`${warm.url}/_resolve`, asHeaders("cookie", authjsCookies));
  const redisClient = new Redis(redis.url);
  const usedMemory = async () =>
    Number(/used_memory:(\d+)/.exec(await redisClient.info("memory"))?.[1]);
  const memoryBefore = await usedMemory();
  await touchAll(`${viaRedis.url}/_resolve`, cookies);
  const sessionsInRedis = (await redisClient.keys("gatehouse:session:*")).length;
  const redisBytes = (await usedMemory()) - memoryBefore;
  redisClient.disconnect();
  await touchAll(`${express.url}/_resolve`, asHeaders("cookie", expressCookies));

  const runs: Record<string, number[]> = {};
  const measure = async (name: string, task: () => Promise<number>) => {
    const value = await task();
    runs[name] = [...(runs[name] ?? []), value];
    log(`  ${name.padEnd(30)} ${value.toFixed(value < 100 ? 1 : 0)}`);
  };
  const resolve = { REQUEST_PATH: "/_resolve" };
  const probeHeaders = seeded.cookies.map((cookie) => ({ cookie, ...FORWARDED }));
  const probe = async () =>
    p99(await fixedRate(`${warm.url}/_resolve`, PROBE_RATE, PROBE_SECONDS, probeHeaders));
  const stormScript = join(import.meta.dirname, "login-storm.mjs");
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round} of ${ROUNDS} (requests per second; p99 in ms)`);
    await measure("raw node:http no-op", () => wrk(`${raw.url}/_resolve`, files.cookies, resolve));
    await measure("Hono no-op", () => wrk(`${hono.url}/_resolve`, files.cookies, resolve));
    await measure("resolve, one session", () =>
      wrk(`${warm.url}/_resolve`, files.oneCookie, resolve),
    );
    await measure("resolve, rotating", () => wrk(`${warm.url}/_resolve`, files.cookies, resolve));
    await measure("resolve via redis", () =>
      wrk(`${viaRedis.url}/_resolve`, files.cookies, resolve),
    );
    await measure("Express + connect-redis", () =>
      wrk(`${express.url}/_resolve`, files.express, resolve),
    );
    await measure("resolve api key", () => wrk(`${warm.url}/_resolve`, files.keys, resolve));
    await measure("resolve jwt", () => wrk(`${warm.url}/_resolve`, files.jwts, resolve));
    await measure("resolve authjs", () => wrk(`${warm.url}/_resolve`, files.authjs, resolve));
    await measure("µs CPU a POST, XSRF off", async () => (await xsrf.off()).cpuMicros);
    await measure("µs CPU a POST, XSRF checked", async () => (await xsrf.on()).cpuMicros);
    await measure("nginx + gatehouse", () => wrk(`${nginxGatehouse}/page`, files.cookies));
    await measure("nginx + no-op resolver", () => wrk(`${nginxNoop}/page`, files.cookies));
    await measure("nginx + gatehouse, cached", () => wrk(`${nginxCached}/page`, files.cookies));
    await measure("nginx cached, hot set", () => wrk(`${nginxCached}/page`, files.hot));
    await measure("nginx without auth, hot set", () => wrk(`${nginxPlain}/page`, files.hot));
    await measure("nginx without auth", () => wrk(`${nginxPlain}/page`, files.cookies));
    await measure("p99, quiet", probe);
    await measure("p99, login storm", async () => {
      const storm = promisify(execFile)(process.execPath, [
        stormScript,
        `${warm.url}/auth/login`,
        String(STORM_RATE),
        String(PROBE_SECONDS + 1),
      ]);
      await sleep(500);
      const result = await probe();
      const { perSecond } = JSON.parse((await storm).stdout) as { perSecond: number };
      runs["storm logins answered per second"] = [
        ...(runs["storm logins answered per second"] ?? []),
        perSecond,
      ];
      return result;
    });
  }

  const m = (name: string) => median(runs[name] ?? []);
  const ratio = (a: string, b: string) => m(a) / m(b);
  const bytesPerSession = Math.max(1, redisBytes / Math.max(1, sessionsInRedis));
  const results: Result[] = [
    {
      name: "warm /_resolve, one session ÷ Hono no-op",
      value: ratio("resolve, one session", "Hono no-op"),
      target: { at: "least", goal: 1.0, floor: 0.9 },
    },
    {
      name: `/_resolve, ${SESSIONS_TEXT} rotating sessions ÷ Hono no-op`,
      value: ratio("resolve, rotating", "Hono no-op"),
      target: { at: "least", goal: 0.8 },
    },
    {
      name: "/_resolve, Redis on every request ÷ Hono no-op",
      value: ratio("resolve via redis", "Hono no-op"),
      target: { at: "least", goal: 0.7 },
    },
    {
      name: "nginx → gatehouse → nginx app ÷ nginx → no-op → nginx app",
      value: ratio("nginx + gatehouse", "nginx + no-op resolver"),
      target: { at: "least", goal: 0.9 },
    },
    {
      name: "warm /_resolve ÷ Express + connect-redis",
      value: ratio("resolve, one session", "Express + connect-redis"),
      target: { at: "least", goal: 6 },
    },
    {
      name: `p99 at ${PROBE_RATE}/s, ~${STORM_RATE} bad logins/s ÷ quiet`,
      value: ratio("p99, login storm", "p99, quiet"),
      target: { at: "most", goal: 3 },
    },
    {
      name: `RSS MB, PostgreSQL, ${SESSIONS_TEXT} sessions`,
      value: onPostgresMemory.rss,
      target: { at: "most", goal: 120 },
    },
    {
      name: `RSS MB, embedded PGlite, ${SESSIONS_TEXT} sessions`,
      value: embedded.rss,
      target: { at: "most", goal: 250 },
    },
    {
      name: "peak RSS MB, PGlite first start",
      value: embedded.firstStartPeak,
      target: { at: "most", goal: 400 },
    },
    {
      name: XSRF_RESULT,
      value: ratio("µs CPU a POST, XSRF off", "µs CPU a POST, XSRF checked"),
      target: { at: "least", goal: 0.95 },
    },
    {
      name: "Hono no-op ÷ raw node:http no-op",
      value: ratio("Hono no-op", "raw node:http no-op"),
    },
    {
      name: "warm /_resolve ÷ raw node:http no-op",
      value: ratio("resolve, one session", "raw node:http no-op"),
    },
    {
      name: "Redis on every request ÷ Express (Redis too)",
      value: ratio("resolve via redis", "Express + connect-redis"),
    },
    { name: "API key ÷ cookie (both warm)", value: ratio("resolve api key", "resolve, rotating") },
    {
      name: "trusted-issuer JWT ÷ cookie (both warm)",
      value: ratio("resolve jwt", "resolve, rotating"),
    },
    {
      name: "Auth.js session ÷ gatehouse session (both warm)",
      value: ratio("resolve authjs", "resolve, rotating"),
      target: { at: "least", goal: 0.8 },
    },
    {
      name: `nginx cache block ÷ nginx without auth, ${SESSIONS_TEXT} sessions`,
      value: ratio("nginx + gatehouse, cached", "nginx without auth"),
    },
    {
      name: `the same, ${HOT_SESSIONS} sessions active`,
      value: ratio("nginx cached, hot set", "nginx without auth, hot set"),
    },
    { name: "p99 ms quiet; during the storm", value: m("p99, quiet"), also: m("p99, login storm") },
    { name: "storm logins answered per second", value: m("storm logins answered per second") },
    { name: `peak RSS MB, PGlite restart on ${SESSIONS_TEXT} sessions`, value: embedded.peak },
    { name: "RSS MB, Express + connect-redis (end of run)", value: memory(express.pid).rss },
    {
      name: "RSS MB, Hono no-op; raw node:http (end of run)",
      value: memory(hono.pid).rss,
      also: memory(raw.pid).rss,
    },
    { name: "sessions per GiB of Redis memory", value: Math.round(2 ** 30 / bytesPerSession) },
  ];

  const machine = {
    cpus: `${availableParallelism()} × ${cpus()[0]?.model ?? "unknown"}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  console.log(
    `\ngatehouse benchmark — ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}`,
  );
  console.log(
    `medians of ${ROUNDS} interleaved rounds of ${SECONDS} s, wrk -t1 -c${CONNECTIONS}\n`,
  );
  for (const result of results)
    console.log(
      `${result.name.padEnd(62)} ${shown(result).padStart(12)}  ${targetText(result.target).padEnd(16)} ${verdict(result)}`,
    );
  console.log("\nmedians:");
  for (const name of Object.keys(runs)) console.log(`  ${name.padEnd(32)} ${m(name).toFixed(1)}`);
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  const file = join(import.meta.dirname, "results", "report.json");
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        rounds: ROUNDS,
        seconds: SECONDS,
        connections: CONNECTIONS,
        results: results.map((result) => ({ ...result, verdict: verdict(result) || undefined })),
        runs,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwritten to ${file} in ${Math.round((Date.now() - startedAt) / 1000)} s`);
}

type Target = { at: "least" | "most"; goal: number; floor?: number };
type Result = { name: string; value: number; also?: number; target?: Target };

const figure = (value: number) =>
  value < 10 ? value.toFixed(2) : value < 1000 ? value.toFixed(0) : String(Math.round(value));
const shown = ({ value, also }: Result) =>
  also === undefined ? figure(value) : `${figure(value)}; ${figure(also)}`;
const targetText = (target?: Target) =>
  !target
    ? "report"
    : `${target.at === "least" ? "≥" : "≤"} ${target.goal}${target.floor ? ` (≥ ${target.floor})` : ""}`;
function verdict({ value, target }: Result): string {
  if (!target) return "";
  const reaches = (goal: number) => (target.at === "least" ? value >= goal : value <= goal);
  if (reaches(target.goal)) return "met";
  if (target.floor !== undefined && reaches(target.floor)) return "floor met";
  return "MISSED";
}

try {
  if (process.argv.includes("--only")) {
    const only = process.argv[process.argv.indexOf("--only") + 1];
    if (only !== "xsrf") throw new Error(`--only knows one scenario: xsrf (not ${only})`);
    await onlyXsrf();
  } else await main();
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
