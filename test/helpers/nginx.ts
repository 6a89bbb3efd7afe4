// Real nginx (Debian's package) running the shipped deploy/nginx files, with
// only the listen port, upstream addresses and include path substituted.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NGINX = "/usr/sbin/nginx";

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

export async function startNginx(options: {
  gatehousePort: number;
  appPort: number;
  port: number;
}) {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-nginx-"));
  const { port } = options;
  writeFileSync(
    join(dir, "gatehouse-auth.conf"),
    readFileSync("deploy/nginx/gatehouse-auth.conf", "utf8"),
  );
  const site = readFileSync("deploy/nginx/gatehouse.conf", "utf8")
    .replace("server 127.0.0.1:4180;", `server 127.0.0.1:${options.gatehousePort};`)
    .replace("server 127.0.0.1:3000;", `server 127.0.0.1:${options.appPort};`)
    .replace("listen 80;", `listen 127.0.0.1:${port};`)
    .replace("/etc/nginx/snippets/gatehouse-auth.conf", join(dir, "gatehouse-auth.conf"));
  writeFileSync(join(dir, "site.conf"), site);
  writeFileSync(
    join(dir, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`,
  );
  const child: ChildProcess = spawn(NGINX, ["-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  try {
    await waitForPort(port);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`nginx did not start: ${stderr}`, { cause: error });
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGQUIT");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
