// A real Redis (Debian's redis-server) on a free loopback port, without
// persistence. It can be killed and started again on the same port.
import { freePort } from "./ports.ts";
import { type RunningProcess, startProcess } from "./process.ts";

export async function startRedis() {
  const port = await freePort();
  const start = () =>
    startProcess({
      command: "redis-server",
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      port,
    });
  let server: RunningProcess | null = await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    /** SIGKILL: the outage a crash causes. */
    async kill() {
      server?.signal("SIGKILL");
      await server?.exited;
      server = null;
    },
    async restart() {
      server = await start();
    },
    async stop() {
      await server?.stop();
      server = null;
    },
  };
}
