// The shipped deploy files agree with each other and with gatehouse: every
// proxy replaces the same identity headers gatehouse sends, the Docker labels
// say what the tested Traefik file says, and the example configurations load.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validate } from "dockerfile-utils";
import { parse, parseAllDocuments } from "yaml";
import { configWarnings, loadConfig } from "../../src/config.ts";
import { IDENTITY_CLAIMS } from "../../src/resolve/rules.ts";
import { isTrustedPeer } from "../../src/security/trusted-proxies.ts";

const read = (path: string) => readFileSync(path, "utf8");
const lower = (names: string[]) => names.map((name) => name.toLowerCase()).sort();

/** Every header `/_resolve` sets on a 200 with the default configuration. */
const GATEHOUSE_HEADERS = lower([
  ...IDENTITY_CLAIMS.map((claim) => `x-auth-${claim}`),
  "x-auth-anonymous",
]);

type Manifest = { kind: string; metadata: { name: string; annotations?: Record<string, string> } };
const manifests = (path: string) =>
  parseAllDocuments(read(path)).map((document) => document.toJS() as Manifest);

const traefikMiddleware = parse(read("deploy/traefik/dynamic.yml")).http.middlewares.gatehouse
  .forwardAuth as Record<string, unknown>;

test("every proxy configuration replaces exactly the headers gatehouse sends", () => {
  const nginx = [
    ...read("deploy/nginx/gatehouse.conf").matchAll(/\$upstream_http_(x_auth_\w+)/g),
  ].map((match) => match[1]?.replaceAll("_", "-") ?? "");
  const nginxSet = [
    ...read("deploy/nginx/gatehouse.conf").matchAll(/proxy_set_header (X-Auth-[\w-]+)/g),
  ].map((match) => match[1] ?? "");
  const caddy = /copy_headers (.+)/.exec(read("deploy/caddy/Caddyfile"))?.[1]?.split(" ") ?? [];
  // Traefik also takes the answer's Cookie (FORWARD_COOKIE_HEADER), its one way to drop the session cookie.
  const traefikAll = traefikMiddleware.authResponseHeaders as string[];
  assert.ok(traefikAll.includes("Cookie"), "Traefik replaces the Cookie header from the answer");
  const traefik = traefikAll.filter((name) => name !== "Cookie");
  const ingress = manifests("deploy/kubernetes/ingress.yaml")
    .filter((manifest) => manifest.metadata.annotations?.["nginx.ingress.kubernetes.io/auth-url"])
    .map(
      (manifest) =>
        manifest.metadata.annotations?.["nginx.ingress.kubernetes.io/auth-response-headers"]?.split(
          ",",
        ) ?? [],
    );
  assert.equal(ingress.length, 2, "both protected Ingresses");
  for (const [name, headers] of [
    ...Object.entries({ nginx, nginxSet, caddy, traefik }),
    ...ingress.map((headers, i) => [`ingress ${i}`, headers] as const),
  ])
    assert.deepEqual(lower(headers), GATEHOUSE_HEADERS, name);
});

test("the docker-compose Traefik labels say what the tested dynamic.yml says", () => {
  const compose = parse(read("docker-compose.yml"));
  const prefix = "traefik.http.middlewares.gatehouse.forwardauth.";
  const labels = Object.fromEntries(
    (compose.services.gatehouse.labels as string[])
      .filter((label) => label.startsWith(prefix))
      .map((label) => {
        const at = label.indexOf("=");
        return [label.slice(prefix.length, at), label.slice(at + 1)];
      }),
  );
  assert.deepEqual(labels, {
    address: traefikMiddleware.address,
    trustForwardHeader: String(traefikMiddleware.trustForwardHeader),
    authRequestHeaders: (traefikMiddleware.authRequestHeaders as string[]).join(","),
    authResponseHeaders: (traefikMiddleware.authResponseHeaders as string[]).join(","),
    authResponseHeadersRegex: traefikMiddleware.authResponseHeadersRegex,
  });
  assert.match(
    compose.services.app.labels.join("\n"),
    /routers\.app\.middlewares=gatehouse@docker/,
    "the demo application is behind the middleware",
  );
});

test("every proxy configuration strips x-auth-* by pattern and keeps gatehouse's cookie from the application", () => {
  // The names gatehouse's session cookie takes: on http, and with its https
  // prefixes (host-only, and with a Domain: COOKIE_DOMAIN or a cookie_domain site).
  const plain = loadConfig({}).session_cookie;
  const https = loadConfig({ PUBLIC_URL: "https://app.example.com" }).session_cookie;
  assert.equal(https, `__Host-${plain}`);
  const shared = loadConfig({
    PUBLIC_URL: "https://app.example.com",
    COOKIE_DOMAIN: "example.com",
  }).session_cookie;
  assert.equal(shared, `__Secure-${plain}`);
  const cookieNames = (text: string) =>
    [...text.matchAll(/\(\?:__\(\?:Host\|Secure\)-\)\?(\w+)=/g)].map((match) => match[1]);
  const patterns = ["X-Auth-*", "X-Auth_*", "X_Auth-*", "X_Auth_*"];

  const nginxSnippet = read("deploy/nginx/gatehouse-auth.conf");
  const clear = /^more_clear_input_headers (.+);$/m.exec(nginxSnippet)?.[1] ?? "";
  assert.deepEqual(
    clear.split(" "),
    patterns.map((pattern) => `'${pattern}'`),
    "nginx strips",
  );
  assert.match(nginxSnippet, /proxy_set_header X-Auth-Request-Redirect "";/);
  const nginxSite = read("deploy/nginx/gatehouse.conf");
  assert.match(nginxSite, /proxy_set_header Cookie \$gatehouse_app_cookie;/);
  assert.deepEqual([...new Set(cookieNames(nginxSite))], [plain], "nginx's cookie maps");

  const caddy = read("deploy/caddy/Caddyfile");
  const stripped = [...caddy.matchAll(/^\s*request_header -(\S+)$/gm)].map((match) => match[1]);
  assert.deepEqual(stripped, patterns, "Caddy strips");
  assert.deepEqual([...new Set(cookieNames(caddy))], [plain], "Caddy's Cookie edit");

  assert.equal(traefikMiddleware.authResponseHeadersRegex, "(?i)^x[-_]auth[-_]");

  const controller = manifests("deploy/kubernetes/ingress-nginx-controller.yaml")[0] as unknown as {
    data: Record<string, string>;
  };
  assert.equal(
    controller.data["server-snippet"]?.trim(),
    `more_clear_input_headers ${patterns.map((pattern) => `'${pattern}'`).join(" ")};`,
  );
  assert.equal(
    controller.data["location-snippet"]?.trim(),
    "proxy_set_header Cookie $gatehouse_app_cookie;",
  );
  assert.deepEqual(
    [...new Set(cookieNames(controller.data["http-snippet"] ?? ""))],
    [plain],
    "ingress-nginx's cookie maps",
  );
  const gatehouseNamespace = manifests("deploy/kubernetes/gatehouse.yaml").find(
    (manifest) => manifest.kind === "Namespace",
  )?.metadata.name;
  assert.match(
    controller.data["http-snippet"] ?? "",
    new RegExp(`^\\s*${gatehouseNamespace} \\$http_cookie;$`, "m"),
    "gatehouse's own Ingress keeps the cookie",
  );
});

test("the examples trust only their proxies, named explicitly and narrowly", () => {
  const compose = parse(read("docker-compose.yml"));
  const environment = compose.services.gatehouse.environment as Record<string, string>;
  assert.ok(environment.TRUSTED_PROXIES, "docker-compose names its proxy");
  const fromCompose = loadConfig(environment);
  assert.equal(fromCompose.forward_cookie_header, true, "Traefik gets the filtered Cookie");
  assert.deepEqual(configWarnings(fromCompose), []);
  const traefik = compose.services.traefik.networks.default.ipv4_address as string;
  assert.equal(isTrustedPeer(traefik, fromCompose.trusted_proxies), true, "Traefik is trusted");
  const subnet = compose.networks.default.ipam.config[0].subnet as string;
  const [network] = subnet.split("/");
  assert.equal(traefik.split(".").slice(0, 3).join("."), network?.split(".").slice(0, 3).join("."));
  for (const other of ["172.28.0.11", "172.17.0.2", "10.0.0.1"])
    assert.equal(isTrustedPeer(other, fromCompose.trusted_proxies), false, other);

  const configMap = manifests("deploy/kubernetes/gatehouse.yaml").find(
    (manifest) => manifest.kind === "ConfigMap",
  ) as unknown as { data: Record<string, string> };
  const settings = parse(configMap.data["gatehouse.yaml"] ?? "") as Record<string, unknown>;
  assert.ok(settings.trusted_proxies, "the Kubernetes example names its proxies");
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-deploy-"));
  writeFileSync(join(dir, "gatehouse.yaml"), configMap.data["gatehouse.yaml"] ?? "");
  const fromKubernetes = loadConfig({
    GATEHOUSE_CONFIG: join(dir, "gatehouse.yaml"),
    CORP_CLIENT_SECRET: "s3cret",
  });
  assert.deepEqual(configWarnings(fromKubernetes), []);
  assert.equal(isTrustedPeer("10.244.3.17", fromKubernetes.trusted_proxies), true, "a pod");
  assert.equal(isTrustedPeer("192.168.1.20", fromKubernetes.trusted_proxies), false);
});

test("the example configurations load", () => {
  const compose = parse(read("docker-compose.yml"));
  const fromCompose = loadConfig(compose.services.gatehouse.environment);
  assert.equal(fromCompose.database_url?.startsWith("postgres://"), true);

  const configMap = manifests("deploy/kubernetes/gatehouse.yaml").find(
    (manifest) => manifest.kind === "ConfigMap",
  ) as unknown as { data: Record<string, string> };
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-deploy-"));
  writeFileSync(join(dir, "gatehouse.yaml"), configMap.data["gatehouse.yaml"] ?? "");
  // Every variable the Deployment takes from its secret, with a plausible value.
  const deployment = manifests("deploy/kubernetes/gatehouse.yaml").find(
    (manifest) => manifest.kind === "Deployment",
  ) as unknown as {
    spec: {
      template: { spec: { containers: { env: { name: string; valueFrom?: unknown }[] }[] } };
    };
  };
  const fromSecret = (deployment.spec.template.spec.containers[0]?.env ?? [])
    .filter((variable) => variable.valueFrom)
    .map((variable) => variable.name);
  const plausible: Record<string, string> = {
    DATABASE_URL: "postgres://gatehouse@postgres/gatehouse",
    SMTP_URL: "smtp://mailer@smtp.example.com:587",
    CORP_CLIENT_SECRET: "s3cret",
    TOKEN_ENCRYPTION_KEYS: "A".repeat(43),
  };
  assert.deepEqual(fromSecret.sort(), Object.keys(plausible).sort());
  const fromKubernetes = loadConfig({
    GATEHOUSE_CONFIG: join(dir, "gatehouse.yaml"),
    ...plausible,
  });
  assert.equal(fromKubernetes.public_url.href, "https://app.example.com/");
  assert.equal(fromKubernetes.session_cookie, "__Host-gatehouse_session");
  assert.equal(fromKubernetes.oauth_providers[0]?.clientSecret, "s3cret");
});

test("the Dockerfile is valid, builds in a stage and runs compiled JavaScript on Node 24", () => {
  const dockerfile = read("Dockerfile");
  assert.deepEqual(
    validate(dockerfile).map(
      (problem) => `line ${problem.range.start.line + 1}: ${problem.message}`,
    ),
    [],
  );
  const stages = dockerfile.split(/^(?=FROM )/m).filter((stage) => stage.startsWith("FROM "));
  for (const stage of stages)
    assert.match(stage, /^FROM node:24[-.\w]*( AS \w+)?$/m, "Node 24 LTS");
  /** The sources of a stage's COPY lines from the build context (not the destination). */
  const copied = (stage: string) =>
    [...stage.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((match) =>
      (match[1] as string).split(/\s+/).slice(0, -1),
    );

  const build = stages.find((stage) => / AS build$/m.test(stage)) ?? "";
  assert.match(build, /^RUN npm run build$/m, "the build stage compiles");
  for (const path of [
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "scripts/build.mjs",
    "scripts/pglite-template.mjs",
    "src",
  ])
    assert.ok(
      copied(build).includes(path),
      `the build stage copies ${path}, which the build reads`,
    );

  const image = stages.at(-1) ?? "";
  assert.match(image, /^COPY --from=build \/app\/dist \.\/dist$/m, "ships the compiled server");
  for (const path of ["drizzle", "package.json", "bin"])
    assert.ok(copied(image).includes(path), `ships ${path}`);
  assert.doesNotMatch(image, /COPY src|tsx/, "no TypeScript in the image");
  const command = JSON.parse(/^CMD (\[.*\])$/m.exec(image)?.[1] ?? "[]") as string[];
  assert.equal(command[0], "node");
  assert.equal(command.at(-1), "dist/main.js", "runs the compiled server");
  assert.ok(
    command.slice(1, -1).every((flag) => flag.startsWith("--") && !flag.startsWith("--import")),
    "node options only, no loader",
  );
  assert.ok(existsSync("src/main.ts"), "dist/main.js is built from src/main.ts");
  assert.match(image, /^USER node$/m, "does not run as root");
});
