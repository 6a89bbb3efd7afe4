// Real nginx (Debian's package) running the shipped deploy/nginx files, with
// only the listen port, upstream addresses and include path substituted.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "./process.ts";

const NGINX = "/usr/sbin/nginx";

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
  const server = await startProcess({
    command: NGINX,
    args: ["-c", join(dir, "nginx.conf"), "-g", "daemon off;"],
    port,
    stopSignal: "SIGQUIT",
    onStop: () => rmSync(dir, { recursive: true, force: true }),
  });
  return { url: `http://127.0.0.1:${port}`, port, stop: server.stop };
}
