// Load generators for the benchmark: wrk for throughput, a fixed-rate client
// for latency, and a pass over every credential to warm caches.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const SECONDS = 3;
export const CONNECTIONS = 16;

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

export const p99 = (latencies: number[]) =>
  [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.99)] as number;

/** A file of "name<TAB>value" lines for rotate.lua: one credential per request, in turn. */
export function headersFile(dir: string, name: string, headers: [string, string][]): string {
  const path = join(dir, name);
  writeFileSync(path, `${headers.map(([key, value]) => `${key}\t${value}`).join("\n")}\n`);
  return path;
}

/** As headersFile, with several headers on each request (a cookie and the XSRF header). */
export function headerSetsFile(dir: string, name: string, sets: [string, string][][]): string {
  const path = join(dir, name);
  writeFileSync(path, `${sets.map((set) => set.flat().join("\t")).join("\n")}\n`);
  return path;
}

/** Requests per second wrk reached (one thread); any non-2xx answer is an error. */
export async function wrk(
  url: string,
  headers: string,
  env: Record<string, string> = {},
): Promise<number> {
  return (await wrkRun(url, headers, env)).rate;
}

/** As wrk, with the number of requests answered. */
export async function wrkRun(
  url: string,
  headers: string,
  env: Record<string, string> = {},
): Promise<{ rate: number; requests: number }> {
  const { stdout } = await run(
    "wrk",
    [
      "-t1",
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      "-s",
      join(import.meta.dirname, "rotate.lua"),
      url,
    ],
    { env: { ...process.env, HEADERS_FILE: headers, ...env } },
  );
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1];
  if (!rate) throw new Error(`wrk printed no rate:\n${stdout}`);
  if (non2xx) throw new Error(`${url}: ${non2xx} non-2xx answers\n${stdout}`);
  const requests = /(\d+) requests in/.exec(stdout)?.[1];
  return { rate: Number(rate), requests: Number(requests) };
}

/** What the shipped nginx config tells /_resolve about the request (rotate.lua sends the same). */
export const FORWARDED = {
  "x-original-uri": "/page",
  "x-original-method": "GET",
  "x-forwarded-host": "app.example.test",
  "x-forwarded-proto": "http",
};

/** Sends every credential once (16 at a time), so every cache measured as warm holds all of them. */
export async function touchAll(url: string, headers: [string, string][]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let next = 0;
  const worker = async () => {
    while (next < headers.length) {
      const [name, value] = headers[next++] as [string, string];
      await new Promise<void>((resolve, reject) => {
        const req = request(url, { agent, headers: { [name]: value, ...FORWARDED } }, (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200
              ? resolve()
              : reject(new Error(`warm-up of ${url} got ${res.statusCode}`)),
          );
        });
        req.on("error", reject);
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
}

/**
 * Latencies (ms) of `rate` requests a second for `seconds` to `url`, sent on
 * time whatever the answers take, each with the next of `headers`.
 */
export async function fixedRate(
  url: string,
  rate: number,
  seconds: number,
  headers: Record<string, string>[],
): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < rate * seconds; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    pending.push(
      new Promise<void>((resolve, reject) => {
        const req = request(url, { agent, headers: headers[i % headers.length] }, (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}`));
            latencies.push(performance.now() - sent);
            resolve();
          });
        });
        req.on("error", reject);
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return latencies;
}
