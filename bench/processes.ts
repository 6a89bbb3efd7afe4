// The processes the benchmark measures, started on loopback and stopped at
// the end: gatehouse exactly as `npm start` runs it (compiled, with its Node
// options), and the plain servers it is compared with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../test/helpers/ports.ts";
import { startProcess } from "../test/helpers/process.ts";

const root = join(import.meta.dirname, "..");
export const stops: (() => Promise<unknown>)[] = [];

export type Server = { pid: number; port: number; url: string; stop(): Promise<void> };

/** `npm start`'s command after `node`: its Node options and dist/main.js. */
function startArguments(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const [node, ...args] = (scripts.start as string).split(" ");
  if (node !== "node" || args.at(-1) !== "dist/main.js")
    throw new Error(`npm start is not "node … dist/main.js": ${scripts.start}`);
  return args;
}

async function start(args: string[], env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = await startProcess({
    command: process.execPath,
    args,
    port,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", ...env },
    // A first start on the embedded database compiles its WebAssembly.
    startTimeoutMs: 60_000,
  });
  stops.push(() => child.stop());
  return { pid: child.pid, port, url: `http://127.0.0.1:${port}`, stop: child.stop };
}

/** gatehouse compiled, on the Node running the benchmark. */
export function startGatehouse(env: Record<string, string>): Promise<Server> {
  return start(startArguments(), { LOG_LEVEL: "warn", ...env });
}

/** One of bench/servers/*.mjs. */
export function startServer(name: string, env: Record<string, string> = {}): Promise<Server> {
  return start([join(import.meta.dirname, "servers", name)], env);
}

/** Resident memory of a process now and at its peak (VmHWM), in MB. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kB = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rss: kB("VmRSS") / 1024, peak: kB("VmHWM") / 1024 };
}

/** CPU time (user + system) a process has used so far, in seconds (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (in parentheses, which may hold spaces): utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
