// Real nginx (Debian's package) running the shipped deploy/nginx files, with
// only the listen port, upstream addresses and include path substituted.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "./process.ts";

const NGINX = "/usr/sbin/nginx";
const MODULES = "/usr/lib/nginx/modules";
/** more_clear_input_headers, used by the shipped snippet and by ingress-nginx's own build. */
export const HEADERS_MORE = "ngx_http_headers_more_filter_module";

export type ProxyOptions = {
  gatehousePort: number;
  appPort: number;
  port: number;
  /** Turn on the shipped, commented-out auth cache. */
  authCache?: boolean;
  /** Several gatehouse replicas instead of gatehousePort (nginx only). */
  gatehousePorts?: number[];
  /** Changes to the shipped server block that a README recipe asks for (nginx only). */
  editSite?: (text: string) => string;
};

/** Uncomments the lines of a shipped file that belong to its optional auth cache. */
export function enableCommented(text: string, marker: RegExp): string {
  return text
    .split("\n")
    .map((line) => (marker.test(line) ? line.replace(/^(\s*)# /, "$1") : line))
    .join("\n");
}

/** Runs nginx with `http` as the body of its http block, in a directory of its own. */
export async function runNginx(options: {
  port: number;
  /** Files written next to nginx.conf, by name; `{dir}` in their text is that directory. */
  files: Record<string, string>;
  http: string;
  modules?: string[];
}) {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-nginx-"));
  const inDir = (text: string) => text.replaceAll("{dir}", dir);
  for (const [name, text] of Object.entries(options.files))
    writeFileSync(join(dir, name), inDir(text));
  const modules = (options.modules ?? []).map((name) => `load_module ${MODULES}/${name}.so;\n`);
  writeFileSync(
    join(dir, "nginx.conf"),
    `${modules.join("")}${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
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
${inDir(options.http)}
}
`,
  );
  const server = await startProcess({
    command: NGINX,
    args: ["-c", join(dir, "nginx.conf"), "-g", "daemon off;"],
    port: options.port,
    stopSignal: "SIGQUIT",
    onStop: () => rmSync(dir, { recursive: true, force: true }),
  });
  return { url: `http://127.0.0.1:${options.port}`, port: options.port, stop: server.stop };
}

export async function startNginx(options: ProxyOptions) {
  let snippet = readFileSync("deploy/nginx/gatehouse-auth.conf", "utf8");
  let cachePath = "";
  if (options.authCache) {
    snippet = enableCommented(snippet, /^\s*# proxy_(cache|ignore_headers)/);
    // The http-level line the snippet's comment asks for.
    cachePath = "proxy_cache_path {dir}/cache keys_zone=gatehouse_auth:10m;";
  }
  const site = readFileSync("deploy/nginx/gatehouse.conf", "utf8")
    .replace(
      "server 127.0.0.1:4180;",
      (options.gatehousePorts ?? [options.gatehousePort])
        .map((port) => `server 127.0.0.1:${port};`)
        .join("\n    "),
    )
    .replace("server 127.0.0.1:3000;", `server 127.0.0.1:${options.appPort};`)
    .replace("listen 80;", `listen 127.0.0.1:${options.port};`)
    .replace("/etc/nginx/snippets/gatehouse-auth.conf", "{dir}/gatehouse-auth.conf");
  const edited = options.editSite ? options.editSite(site) : site;
  return runNginx({
    port: options.port,
    files: { "gatehouse-auth.conf": snippet, "site.conf": edited },
    http: `${cachePath}\ninclude {dir}/site.conf;`,
    // Debian's libnginx-mod-http-headers-more-filter, which the snippet needs
    // (installing the package loads it; here nginx.conf is the harness's own).
    modules: [HEADERS_MORE],
  });
}
