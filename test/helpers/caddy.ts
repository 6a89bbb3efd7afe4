// Real Caddy (Debian's package) running the shipped deploy/caddy/Caddyfile,
// with only the listen address and upstream ports substituted, and the admin
// endpoint off so several can run at once.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "./process.ts";

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
  const server = await startProcess({
    command: "caddy",
    args: ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"],
    port: options.port,
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    onStop: () => rmSync(dir, { recursive: true, force: true }),
  });
  return { url: `http://127.0.0.1:${options.port}`, stop: server.stop };
}
