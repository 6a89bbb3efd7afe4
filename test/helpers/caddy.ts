// Real Caddy (Debian's package) running the shipped deploy/caddy/Caddyfile,
// with only the listen address and upstream ports substituted, and the admin
// endpoint off so several can run at once.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForPort } from "./nginx.ts";

export async function startCaddy(options: {
  gatehousePort: number;
  appPort: number;
  port: number;
}) {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-caddy-"));
  const shipped = readFileSync("deploy/caddy/Caddyfile", "utf8");
  const caddyfile = `{\n\tadmin off\n\tauto_https off\n}\n${shipped}`
    .replaceAll("127.0.0.1:4180", `127.0.0.1:${options.gatehousePort}`)
    .replaceAll("127.0.0.1:3000", `127.0.0.1:${options.appPort}`)
    .replace(":8080 {", `:${options.port} {\n\tbind 127.0.0.1`);
  writeFileSync(join(dir, "Caddyfile"), caddyfile);
  const child: ChildProcess = spawn(
    "caddy",
    ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  try {
    await waitForPort(options.port);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`caddy did not start: ${stderr.slice(-2000)}`, { cause: error });
  }
  return {
    url: `http://127.0.0.1:${options.port}`,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
