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
import { loadConfig } from "../../src/config.ts";
import { IDENTITY_CLAIMS } from "../../src/resolve/rules.ts";

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
  const traefik = traefikMiddleware.authResponseHeaders as string[];
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

test("the Dockerfile is valid and ships what the server runs", () => {
  const dockerfile = read("Dockerfile");
  assert.deepEqual(
    validate(dockerfile).map(
      (problem) => `line ${problem.range.start.line + 1}: ${problem.message}`,
    ),
    [],
  );
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)].map((match) => match[1]);
  for (const path of ["src", "drizzle", "package.json"])
    assert.ok(copied.includes(path), `copies ${path}`);
  const command = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]";
  const entry = (JSON.parse(command) as string[]).find((argument) => argument.endsWith(".ts"));
  assert.ok(entry && existsSync(entry), `the entry point ${entry} exists`);
  assert.match(dockerfile, /^USER node$/m, "does not run as root");
});
