// ingress-nginx cannot run here (no Kubernetes): this renders, for real nginx,
// what its controller generates from the shipped deploy/kubernetes/ingress.yaml,
// following the controller's template (rootfs/etc/nginx/template/nginx.tmpl)
// and its helpers (buildAuthLocation, buildAuthResponseHeaders,
// buildAuthSignURL, buildAuthSignURLLocation) for the annotations used there:
// - auth-url: an internal location per protected path that sends the
//   client's headers without the body, with X-Original-URL
//   ($scheme://$http_host$request_uri), X-Original-Method,
//   X-Auth-Request-Redirect ($request_uri), X-Sent-From, X-Real-IP,
//   X-Forwarded-For $remote_addr and an empty X-Forwarded-Proto;
// - auth-response-headers: `auth_request_set $authHeaderN` and
//   `proxy_set_header '<name>' $authHeaderN` per header, nothing else
//   (ingress-nginx strips no other client header);
// - auth-signin: `set_escape_uri $escaped_request_uri $request_uri` (the
//   set-misc module, built into the controller's nginx) and every 401 sent to
//   a named location answering 302 to the sign-in URL plus
//   `rd=$pass_access_scheme://$http_host$escaped_request_uri`;
// - auth-cache-key/-duration: proxy_cache keyed on the md5 of host, auth path
//   and the key (the controller's Lua does `ngx.md5`; set_md5 here);
// - the controller's ConfigMap (deploy/kubernetes/ingress-nginx-controller.yaml):
//   http-snippet in the http block, server-snippet in the server block and
//   location-snippet in every location that proxies to a Service (not the
//   internal auth location), each location setting $namespace, $ingress_name
//   and $service_name first; headers-more is built into the controller's
//   nginx (Debian's libnginx-mod-http-headers-more-filter here).
// Left out: Lua balancing (a plain upstream per Service), TLS, and the
// annotations the shipped file does not use.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { enableCommented, HEADERS_MORE, type ProxyOptions, runNginx } from "./nginx.ts";

type Ingress = {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: {
    rules: {
      host: string;
      http: {
        paths: {
          path: string;
          pathType: "Prefix" | "Exact";
          backend: { service: { name: string; port: { number: number } } };
        }[];
      };
    }[];
  };
};

const ANNOTATION = "nginx.ingress.kubernetes.io/";
const base64url = (bytes: Buffer | string) =>
  Buffer.from(bytes).toString("base64").replaceAll("+", "-").replaceAll("/", "_");

export function readIngresses(text: string): Ingress[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Ingress)
    .filter(Boolean);
}

/** The snippet keys of the controller's ConfigMap that the shipped file sets. */
type ControllerSnippets = {
  "http-snippet"?: string;
  "server-snippet"?: string;
  "location-snippet"?: string;
};

export function readControllerConfig(text: string): ControllerSnippets {
  const configMap = parseAllDocuments(text)
    .map((document) => document.toJS() as { kind?: string; data?: ControllerSnippets })
    .find((manifest) => manifest?.kind === "ConfigMap");
  return configMap?.data ?? {};
}

type Service = Ingress["spec"]["rules"][number]["http"]["paths"][number]["backend"]["service"];

/** The controller's upstream names: namespace-service-port. */
function upstreamName(ingress: Ingress, service: Service): string {
  return `${ingress.metadata.namespace}-${service.name}-${service.port.number}`;
}

/** buildAuthResponseHeaders: one variable per header, set on the proxied request. */
function authResponseHeaders(list: string): string[] {
  return list
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean)
    .flatMap((name, i) => [
      `auth_request_set $authHeader${i} $upstream_http_${name.toLowerCase().replaceAll("-", "_")};`,
      `proxy_set_header '${name}' $authHeader${i};`,
    ]);
}

/** buildAuthSignURL: appends rd=<the original URL> unless the URL already has one. */
function authSignUrl(signin: string): string {
  if (/[?&]rd=/.test(signin)) return signin;
  const separator = signin.includes("?") ? "&" : "?";
  return `${signin}${separator}rd=$pass_access_scheme://$http_host$escaped_request_uri`;
}

function renderLocation(
  ingress: Ingress,
  path: Ingress["spec"]["rules"][number]["http"]["paths"][number],
  resolveUrl: (url: string) => string,
  locationSnippet: string,
): string {
  const annotations = ingress.metadata.annotations ?? {};
  const annotation = (name: string) => annotations[ANNOTATION + name];
  const upstream = upstreamName(ingress, path.backend.service);
  const matchers =
    path.pathType === "Exact" || path.path === "/"
      ? [path.pathType === "Exact" ? `= ${path.path}` : "/"]
      : [`${path.path.replace(/\/?$/, "/")}`, `= ${path.path.replace(/\/$/, "")}`];
  const authUrl = annotation("auth-url");
  const signin = annotation("auth-signin");
  // buildAuthLocation and buildAuthSignURLLocation.
  const authPath = `/_external-auth-${base64url(path.path).replaceAll("=", "")}-${path.pathType}`;
  const signinLocation = `@${base64url(
    createHash("sha1")
      .update(path.path)
      .update(signin ?? "")
      .digest(),
  )}`;
  const blocks: string[] = [];
  if (authUrl) {
    const target = new URL(resolveUrl(authUrl));
    const cacheKey = annotation("auth-cache-key");
    const cache = cacheKey
      ? [
          `set $tmp_cache_key '${ingress.spec.rules[0]?.host}${authPath}${cacheKey}';`,
          "set_md5 $cache_key $tmp_cache_key;",
          "proxy_cache auth_cache;",
          ...(annotation("auth-cache-duration") ?? "200 202 401 5m")
            .split(",")
            .map((duration) => `proxy_cache_valid ${duration.trim()};`),
          'proxy_cache_key "$cache_key";',
          "proxy_buffering on;",
        ]
      : ["proxy_buffering off;"];
    blocks.push(`location = ${authPath} {
    internal;
    ${cache.join("\n    ")}
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header X-Forwarded-Proto "";
    proxy_set_header X-Request-ID $req_id;
    proxy_set_header Host ${target.host};
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Sent-From "nginx-ingress-controller";
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Auth-Request-Redirect $request_uri;
    proxy_buffer_size 4k;
    proxy_buffers 4 4k;
    proxy_request_buffering on;
    proxy_http_version 1.1;
    proxy_ssl_server_name on;
    proxy_pass_request_headers on;
    client_max_body_size 1m;
    set $target ${target.href};
    proxy_pass $target;
}`);
    if (signin)
      blocks.push(`location ${signinLocation} {
    internal;
    add_header Set-Cookie $auth_cookie;
    return 302 ${authSignUrl(resolveUrl(signin))};
}`);
  }
  const auth = authUrl
    ? [
        "# this location requires authentication",
        `auth_request ${authPath};`,
        "auth_request_set $auth_cookie $upstream_http_set_cookie;",
        "add_header Set-Cookie $auth_cookie;",
        ...authResponseHeaders(annotation("auth-response-headers") ?? ""),
        ...(signin
          ? [
              "set_escape_uri $escaped_request_uri $request_uri;",
              `error_page 401 = ${signinLocation};`,
            ]
          : []),
      ]
    : [];
  for (const matcher of matchers)
    blocks.push(`location ${matcher} {
    set $namespace "${ingress.metadata.namespace}";
    set $ingress_name "${ingress.metadata.name}";
    set $service_name "${path.backend.service.name}";
    ${auth.join("\n    ")}
    proxy_set_header Host $best_http_host;
    proxy_set_header X-Request-ID $req_id;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Host $best_http_host;
    proxy_set_header X-Forwarded-Proto $pass_access_scheme;
    proxy_set_header X-Scheme $pass_access_scheme;
    proxy_set_header Connection "";
    proxy_http_version 1.1;
    ${locationSnippet}
    proxy_pass http://${upstream};
}`);
  return blocks.join("\n");
}

/**
 * Starts nginx with the shipped Ingresses rendered into one server block (the
 * test reaches it on 127.0.0.1, so the host rule is the default server).
 * Service and auth-url addresses are the only substitutions.
 */
export async function startIngressNginx(options: ProxyOptions) {
  let text = readFileSync("deploy/kubernetes/ingress.yaml", "utf8");
  if (options.authCache)
    text = enableCommented(text, /^\s*# nginx\.ingress\.kubernetes\.io\/auth-cache-/);
  const ingresses = readIngresses(text);
  const controller = readControllerConfig(
    readFileSync("deploy/kubernetes/ingress-nginx-controller.yaml", "utf8"),
  );
  const servicePorts: Record<string, number> = {
    app: options.appPort,
    gatehouse: options.gatehousePort,
  };
  // Cluster DNS names become loopback addresses; https://$host becomes the test's origin.
  const resolveUrl = (url: string) =>
    url
      .replace(
        /^http:\/\/([a-z0-9-]+)\.[a-z0-9.-]+\.svc\.cluster\.local:\d+/,
        (_, service: string) => {
          const port = servicePorts[service];
          if (!port) throw new Error(`no test server for the service ${service}`);
          return `http://127.0.0.1:${port}`;
        },
      )
      .replace("https://$host/", "http://$http_host/");
  const upstreams = ingresses.flatMap((ingress) =>
    ingress.spec.rules.flatMap((rule) =>
      rule.http.paths.map(({ backend: { service } }) => {
        const port = servicePorts[service.name];
        if (!port) throw new Error(`no test server for the service ${service.name}`);
        return `upstream ${upstreamName(ingress, service)} { server 127.0.0.1:${port}; keepalive 32; }`;
      }),
    ),
  );
  const locations = ingresses.flatMap((ingress) =>
    ingress.spec.rules.flatMap((rule) =>
      rule.http.paths.map((path) =>
        renderLocation(ingress, path, resolveUrl, controller["location-snippet"] ?? ""),
      ),
    ),
  );
  // The parts of the controller's http block these locations rely on.
  const http = `
underscores_in_headers off;
ignore_invalid_headers on;
map $http_x_request_id $req_id { default $http_x_request_id; "" $request_id; }
map "" $pass_access_scheme { default $scheme; }
map "" $best_http_host { default $http_host; }
proxy_cache_path {dir}/auth-cache levels=1:2 keys_zone=auth_cache:10m max_size=128m inactive=30m use_temp_path=off;
${controller["http-snippet"] ?? ""}
${[...new Set(upstreams)].join("\n")}
server {
    listen 127.0.0.1:${options.port} default_server;
    server_name _;
${locations.join("\n")}
${controller["server-snippet"] ?? ""}
}`;
  return runNginx({
    port: options.port,
    files: {},
    http,
    modules: ["ndk_http_module", "ngx_http_set_misc_module", HEADERS_MORE],
  });
}
