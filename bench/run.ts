// `npm run bench`: the speed targets of DESIGN.md section 5 as ratios measured
// in one run on this machine. Starts everything on loopback (PostgreSQL,
// Redis, gatehouse processes, a no-op Hono server, nginx, the echo
// application), seeds many sessions, API keys and JWTs, and drives load with
// wrk in interleaved rounds; each ratio is the median over the rounds.
// Bounded: about three minutes. Writes bench/results/report.json.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import postgres from "postgres";
import { apiKeyStart, generateApiKey, hashApiKey } from "../src/api-keys/format.ts";
import { generateToken, hashToken } from "../src/sessions/tokens.ts";
import { startEchoApp } from "../test/helpers/echo-app.ts";
import { runNginx, startNginx } from "../test/helpers/nginx.ts";
import { freePort } from "../test/helpers/ports.ts";
import { startPostgres } from "../test/helpers/postgres-server.ts";
import { startProcess } from "../test/helpers/process.ts";
import { startRedis } from "../test/helpers/redis-server.ts";
import { startTokenIssuer } from "../test/helpers/token-issuer.ts";

const run = promisify(execFile);
const ROUNDS = 3;
const SECONDS = 3;
const CONNECTIONS = 16;
const USERS = 1_000;
const SESSIONS_PER_USER = 10;
const CREDENTIALS_OF_EACH_KIND = 200;
const PROBE_RATE = 200;
const PROBE_SECONDS = 4;
const STORM_CONNECTIONS = 32;
const STORM_DELAY_MS = 50;
/** The cached nginx is also measured on a hot set: the sessions active within its 5 s validity. */
const HOT_SESSIONS = 200;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const work = mkdtempSync(join(tmpdir(), "gatehouse-bench-"));
const stops: (() => Promise<unknown>)[] = [];
const log = (line: string) => process.stderr.write(`${line}\n`);

function headersFile(name: string, lines: string[]): string {
  const path = join(work, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** Requests per second wrk reached. */
async function wrk(
  url: string,
  headers: string,
  env: Record<string, string> = {},
  seconds = SECONDS,
  connections = CONNECTIONS,
): Promise<number> {
  const { stdout } = await run(
    "wrk",
    [
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "-s",
      join(import.meta.dirname, "rotate.lua"),
      url,
    ],
    { env: { ...process.env, HEADERS_FILE: headers, ...env } },
  );
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1];
  if (!rate) throw new Error(`wrk printed no rate:\n${stdout}`);
  if (non2xx && !env.ALLOW_ERRORS) throw new Error(`${url}: ${non2xx} non-2xx answers\n${stdout}`);
  return Number(rate);
}

/** Sends every credential once (16 at a time), so every cache measured as warm holds all of them. */
async function touchAll(url: string, headers: [string, string][]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let next = 0;
  const worker = async () => {
    while (next < headers.length) {
      const [name, value] = headers[next++] as [string, string];
      await new Promise<void>((resolve, reject) => {
        const req = request(
          url,
          { agent, headers: { [name]: value, "x-original-uri": "/page" } },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200
                ? resolve()
                : reject(new Error(`warm-up got ${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
}

/**
 * Sends `rate` requests per second for `seconds`, whatever the answers take,
 * and returns the latencies (ms). `options(i)` describes request i.
 */
async function fixedRate(
  rate: number,
  seconds: number,
  options: (i: number) => {
    url: string;
    method?: string;
    headers: Record<string, string>;
    body?: string;
  },
  expect: (status: number) => boolean,
): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < rate * seconds; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { url, method, headers, body } = options(i);
    const sent = performance.now();
    pending.push(
      new Promise<void>((resolve, reject) => {
        const req = request(url, { agent, method: method ?? "GET", headers }, (res) => {
          res.resume();
          res.on("end", () => {
            if (!expect(res.statusCode ?? 0))
              reject(new Error(`${url} answered ${res.statusCode}`));
            latencies.push(performance.now() - sent);
            resolve();
          });
        });
        req.on("error", reject);
        req.end(body);
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return latencies;
}

const p99 = (latencies: number[]) =>
  [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.99)] as number;

/** p99 (ms) of /_resolve at PROBE_RATE, one cookie after another. */
async function probe(url: string, cookies: string[]): Promise<number> {
  const latencies = await fixedRate(
    PROBE_RATE,
    PROBE_SECONDS,
    (i) => ({
      url,
      headers: { cookie: cookies[i % cookies.length] as string, "x-original-uri": "/page" },
    }),
    (status) => status === 200,
  );
  return p99(latencies);
}

/**
 * Wrong-password logins from wrk (its own process, so the probe's client is
 * not slowed by generating them): STORM_CONNECTIONS connections, each pausing
 * STORM_DELAY_MS between requests, far beyond what argon2id can hash here.
 */
function loginStorm(url: string, seconds: number, headers: string): Promise<number> {
  return wrk(
    url,
    headers,
    {
      REQUEST_METHOD: "POST",
      REQUEST_PATH: "/auth/login",
      REQUEST_BODY: JSON.stringify({
        email: "nobody@example.test",
        password: "wrong password 123",
      }),
      DELAY_MS: String(STORM_DELAY_MS),
      ALLOW_ERRORS: "1",
    },
    seconds,
    STORM_CONNECTIONS,
  );
}

async function startGatehouseProcess(env: Record<string, string>) {
  const port = await freePort();
  const server = await startProcess({
    command: process.execPath,
    args: ["--import", "tsx", "src/main.ts"],
    port,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env },
  });
  stops.push(() => server.stop());
  return { port, url: `http://127.0.0.1:${port}` };
}

async function main() {
  const startedAt = Date.now();
  log("starting PostgreSQL, Redis, the token issuer, the echo application ...");
  const [pg, redis, issuer, app] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTokenIssuer(),
    startEchoApp(),
  ]);
  stops.push(
    () => pg.stop(),
    () => redis.stop(),
    () => issuer.stop(),
    () => app.stop(),
  );

  const common = {
    DATABASE_URL: pg.url,
    TRUSTED_ISSUERS: JSON.stringify([{ issuer: issuer.issuer, audiences: ["bench"] }]),
    // The storm stands for many attackers: the per-account and per-IP limits would
    // otherwise turn it into cheap 429s after a few dozen attempts.
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "10000",
    LOGIN_MAX_FAILURES_PER_IP: "100000",
  };
  // The first process applies the migrations.
  const warm = await startGatehouseProcess({ ...common, SESSION_CACHE_TTL: "600s" });
  const viaRedis = await startGatehouseProcess({
    ...common,
    SESSION_CACHE_TTL: "0",
    REDIS_URL: redis.url,
    // Long enough that every measured request finds its session in Redis.
    REDIS_CACHE_TTL: "600s",
  });
  const noopPort = await freePort();
  const noop = await startProcess({
    command: process.execPath,
    args: ["--import", "tsx", join(import.meta.dirname, "noop-server.ts")],
    port: noopPort,
    env: { ...process.env, PORT: String(noopPort) },
  });
  stops.push(() => noop.stop());

  log(`seeding ${USERS * SESSIONS_PER_USER} sessions, API keys and JWTs ...`);
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  const userIds = Array.from({ length: USERS }, () => crypto.randomUUID());
  await sql`insert into users ${sql(userIds.map((id, i) => ({ id, email: `bench.${i}@example.test` })))}`;
  const now = Date.now();
  const cookies: string[] = [];
  const sessionRows = userIds.flatMap((userId) =>
    Array.from({ length: SESSIONS_PER_USER }, () => {
      const token = generateToken();
      cookies.push(`gatehouse_session=${token}`);
      return {
        id: hashToken(token),
        user_id: userId,
        method: "password",
        authenticated_at: new Date(now),
        idle_expires_at: new Date(now + 86_400_000),
        expires_at: new Date(now + 86_400_000),
      };
    }),
  );
  for (let i = 0; i < sessionRows.length; i += 1_000)
    await sql`insert into sessions ${sql(sessionRows.slice(i, i + 1_000))}`;
  const apiKeys = userIds.slice(0, CREDENTIALS_OF_EACH_KIND).map((userId) => {
    const key = generateApiKey();
    return {
      key,
      row: {
        id: crypto.randomUUID(),
        user_id: userId,
        name: "bench",
        hash: hashApiKey(key),
        start: apiKeyStart(key),
      },
    };
  });
  await sql`insert into api_keys ${sql(apiKeys.map((item) => item.row))}`;
  await sql.end();
  const jwts = await Promise.all(
    userIds
      .slice(0, CREDENTIALS_OF_EACH_KIND)
      .map((sub) => issuer.sign({ sub, aud: "bench", exp: Math.floor(now / 1000) + 3600 })),
  );

  const cookieFile = headersFile(
    "cookies",
    cookies.map((cookie) => `Cookie\t${cookie}`),
  );
  const stormFile = headersFile("storm", ["X-Storm\t1"]);
  const hotFile = headersFile(
    "hot",
    cookies.slice(0, HOT_SESSIONS).map((cookie) => `Cookie\t${cookie}`),
  );
  const keyFile = headersFile(
    "keys",
    apiKeys.map(({ key }) => `Authorization\tBearer ${key}`),
  );
  const jwtFile = headersFile(
    "jwts",
    jwts.map((jwt) => `Authorization\tBearer ${jwt}`),
  );
  const resolvePath = {
    REQUEST_PATH: "/_resolve",
    EXTRA_HEADER_NAME: "X-Original-URI",
    EXTRA_HEADER_VALUE: "/page",
  };

  log("starting nginx in four configurations ...");
  const nginxWith = async (options: { gatehousePort: number; authCache?: boolean }) => {
    const port = await freePort();
    const server = await startNginx({ ...options, appPort: app.port, port });
    stops.push(() => server.stop());
    return `http://127.0.0.1:${port}`;
  };
  const nginxGatehouse = await nginxWith({ gatehousePort: warm.port });
  const nginxNoop = await nginxWith({ gatehousePort: noopPort });
  const nginxCached = await nginxWith({ gatehousePort: warm.port, authCache: true });
  const plainPort = await freePort();
  const plain = await runNginx({
    port: plainPort,
    files: {},
    http: `upstream app { server 127.0.0.1:${app.port}; keepalive 32; }
server {
  listen 127.0.0.1:${plainPort};
  location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
}`,
  });
  stops.push(() => plain.stop());
  const nginxPlain = `http://127.0.0.1:${plainPort}`;

  // One pass over every credential, so the caches measured as warm are warm
  // (and the Redis process has every session).
  log("warming caches ...");
  const asHeaders = (name: string, values: string[]) =>
    values.map((value) => [name, value] as [string, string]);
  await touchAll(`${warm.url}/_resolve`, asHeaders("cookie", cookies));
  await touchAll(
    `${warm.url}/_resolve`,
    asHeaders(
      "authorization",
      apiKeys.map(({ key }) => `Bearer ${key}`),
    ),
  );
  await touchAll(
    `${warm.url}/_resolve`,
    asHeaders(
      "authorization",
      jwts.map((jwt) => `Bearer ${jwt}`),
    ),
  );
  const redisClient = new Redis(redis.url);
  const usedMemory = async () =>
    Number(/used_memory:(\d+)/.exec(await redisClient.info("memory"))?.[1]);
  const memoryBefore = await usedMemory();
  await touchAll(`${viaRedis.url}/_resolve`, asHeaders("cookie", cookies));
  const sessionsInRedis = (await redisClient.keys("gatehouse:session:*")).length;
  const redisBytes = (await usedMemory()) - memoryBefore;
  redisClient.disconnect();

  const runs: Record<string, number[]> = {};
  const measure = async (name: string, task: () => Promise<number>) => {
    const value = await task();
    runs[name] = [...(runs[name] ?? []), value];
    log(`  ${name.padEnd(28)} ${value.toFixed(0)}`);
  };
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round} of ${ROUNDS} (requests per second)`);
    await measure("noop", () =>
      wrk(`http://127.0.0.1:${noopPort}/_resolve`, cookieFile, resolvePath),
    );
    await measure("resolve warm", () => wrk(`${warm.url}/_resolve`, cookieFile, resolvePath));
    await measure("resolve via redis", () =>
      wrk(`${viaRedis.url}/_resolve`, cookieFile, resolvePath),
    );
    await measure("resolve api key", () => wrk(`${warm.url}/_resolve`, keyFile, resolvePath));
    await measure("resolve jwt", () => wrk(`${warm.url}/_resolve`, jwtFile, resolvePath));
    await measure("nginx + gatehouse", () => wrk(`${nginxGatehouse}/page`, cookieFile));
    await measure("nginx + noop resolver", () => wrk(`${nginxNoop}/page`, cookieFile));
    await measure("nginx + gatehouse, cached", () => wrk(`${nginxCached}/page`, cookieFile));
    await measure("nginx cached, hot set", () => wrk(`${nginxCached}/page`, hotFile));
    await measure("nginx without auth, hot set", () => wrk(`${nginxPlain}/page`, hotFile));
    await measure("nginx without auth", () => wrk(`${nginxPlain}/page`, cookieFile));
    await measure("p99 ms, quiet", () => probe(`${warm.url}/_resolve`, cookies));
    await measure("p99 ms, login storm", async () => {
      const storm = loginStorm(`${warm.url}/auth/login`, PROBE_SECONDS + 1, stormFile);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const result = await probe(`${warm.url}/_resolve`, cookies);
      runs["storm logins per second"] = [...(runs["storm logins per second"] ?? []), await storm];
      return result;
    });
  }

  const m = (name: string) => median(runs[name] ?? []);
  const ratio = (a: string, b: string) => m(a) / m(b);
  const bytesPerSession = Math.max(1, redisBytes / Math.max(1, sessionsInRedis));
  const results = [
    {
      name: "/_resolve, warm in-process cache ÷ no-op Hono",
      value: ratio("resolve warm", "noop"),
      target: ">= 0.85",
    },
    {
      name: "/_resolve, Redis on every request ÷ no-op Hono",
      value: ratio("resolve via redis", "noop"),
      target: ">= 0.6",
    },
    {
      name: "nginx → gatehouse → app ÷ nginx → no-op resolver → app",
      value: ratio("nginx + gatehouse", "nginx + noop resolver"),
      target: ">= 0.85",
    },
    {
      name: `nginx with the cache block ÷ nginx without auth, ${USERS * SESSIONS_PER_USER} sessions`,
      value: ratio("nginx + gatehouse, cached", "nginx without auth"),
      target: "report",
    },
    {
      name: `the same, ${HOT_SESSIONS} sessions active`,
      value: ratio("nginx cached, hot set", "nginx without auth, hot set"),
      target: "report",
    },
    {
      name: "p99 of /_resolve during a login storm ÷ quiet",
      value: ratio("p99 ms, login storm", "p99 ms, quiet"),
      target: "<= 2",
    },
    {
      name: "API key ÷ cookie (both warm)",
      value: ratio("resolve api key", "resolve warm"),
      target: "report",
    },
    {
      name: "trusted-issuer JWT ÷ cookie (both warm)",
      value: ratio("resolve jwt", "resolve warm"),
      target: "report",
    },
    {
      name: "sessions per GiB of Redis memory",
      value: Math.round(2 ** 30 / bytesPerSession),
      target: "report",
    },
  ];
  const met = (value: number, target: string) => {
    const match = /^(>=|<=) ([\d.]+)$/.exec(target);
    if (!match) return "";
    return (match[1] === ">=" ? value >= Number(match[2]) : value <= Number(match[2]))
      ? "met"
      : "MISSED";
  };
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
  for (const { name, value, target } of results)
    console.log(
      `${name.padEnd(58)} ${value < 100 ? value.toFixed(2).padStart(9) : String(value).padStart(9)}  ${target.padEnd(8)} ${met(value, target)}`,
    );
  console.log("\nmedians:");
  for (const name of Object.keys(runs)) console.log(`  ${name.padEnd(28)} ${m(name).toFixed(1)}`);
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  const file = join(import.meta.dirname, "results", "report.json");
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), machine, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, results: results.map((r) => ({ ...r, met: met(r.value, r.target) || undefined })), runs }, null, 2)}\n`,
  );
  console.log(`\nwritten to ${file} in ${Math.round((Date.now() - startedAt) / 1000)} s`);
}

try {
  await main();
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
