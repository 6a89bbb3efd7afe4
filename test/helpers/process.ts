// Starts a server process for a test, waits until its port answers, and stops
// it (gracefully, then by force) when the test is done.
import { spawn } from "node:child_process";
import { connect } from "node:net";

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
}

export type RunningProcess = {
  pid: number;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
};

export async function startProcess(options: {
  command: string;
  args: string[];
  port: number;
  env?: NodeJS.ProcessEnv;
  stopSignal?: NodeJS.Signals;
  onStop?: () => void;
  /** How long the port may take to answer (10 s by default). */
  startTimeoutMs?: number;
}): Promise<RunningProcess> {
  const child = spawn(options.command, options.args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: options.env ?? process.env,
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  try {
    await waitForPort(options.port, options.startTimeoutMs);
  } catch (error) {
    child.kill("SIGKILL");
    options.onStop?.();
    throw new Error(`${options.command} did not start: ${stderr.slice(-2000)}`, { cause: error });
  }
  return {
    pid: child.pid ?? 0,
    exited,
    signal: (signal) => child.kill(signal),
    async stop() {
      child.kill(options.stopSignal ?? "SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      child.kill("SIGKILL");
      options.onStop?.();
    },
  };
}
