// Providers whose endpoints are fixed public URLs (GitHub, Google, Discord),
// spoken by one local server: authorization codes bound to PKCE challenges
// and nonces, client authentication, token responses, user APIs, Google's
// discovery document, JWKS and RS256-signed ID tokens. `routeToFake` points
// this process's HTTP client (global fetch, which arctic and jose use) at it.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { exportJWK, generateKeyPair, importSPKI, jwtVerify, SignJWT } from "jose";
import { closeServer } from "./http.ts";
import { freePort } from "./ports.ts";

export const FAKE_HOSTS = [
  "github.com",
  "api.github.com",
  "accounts.google.com",
  "oauth2.googleapis.com",
  "www.googleapis.com",
  "discord.com",
  "appleid.apple.com",
];

/** Hosts whose token endpoint also returns an ID token, and that token's issuer. */
const ID_TOKEN_ISSUERS: Record<string, string> = {
  "oauth2.googleapis.com": "https://accounts.google.com",
  "appleid.apple.com": "https://appleid.apple.com",
};

export type FakeUser = {
  id: string;
  email: string;
  verified: boolean;
  name: string;
  /** GitHub only: more addresses, as its emails API lists them. */
  emails?: { email: string; primary: boolean; verified: boolean }[];
};

type Grant = { user: FakeUser; clientId: string; challenge: string | null; nonce: string | null };

export type FakeProviders = {
  url: string;
  clients: Map<string, string>;
  /** Apple's clients authenticate with an ES256 JWT signed by this key (a PEM public key). */
  appleClients: Map<string, string>;
  /** While true, token requests are never answered. */
  hang: boolean;
  /** What the user approving the authorization URL would send back: a code for that request. */
  approve(authorizationUrl: URL, user: FakeUser): string;
  tokenRequests: number;
  stop(): Promise<void>;
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFakeProviders(): Promise<FakeProviders> {
  const port = await freePort();
  const clients = new Map<string, string>();
  const appleClients = new Map<string, string>();
  const state = { hang: false };
  const grants = new Map<string, Grant>();
  const accessTokens = new Map<string, FakeUser>();
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "google-test", alg: "RS256", use: "sig" };
  let tokenRequests = 0;

  /** A shared secret, or for Apple an ES256 JWT from the team's key, issued for Apple, naming the client. */
  async function clientAuthenticated(clientId: string, secret: string | null): Promise<boolean> {
    const applePem = appleClients.get(clientId);
    if (!applePem) return clients.get(clientId) === secret;
    try {
      const { payload } = await jwtVerify(secret ?? "", await importSPKI(applePem, "ES256"), {
        audience: "https://appleid.apple.com",
        subject: clientId,
      });
      return typeof payload.iss === "string";
    } catch {
      return false;
    }
  }

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const [, host, ...rest] = url.pathname.split("/");
    const path = `/${rest.join("/")}`;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const bearerUser = () =>
      accessTokens.get((req.headers.authorization ?? "").replace(/^Bearer /i, ""));

    if (
      req.method === "POST" &&
      (path.endsWith("/token") || path === "/login/oauth/access_token")
    ) {
      tokenRequests += 1;
      if (state.hang) return; // never answered: the client must give up by itself
      const form = new URLSearchParams(await readBody(req));
      let clientId = form.get("client_id");
      let secret = form.get("client_secret");
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
      if (basic?.[1])
        [clientId, secret] = Buffer.from(basic[1], "base64").toString().split(":") as [
          string,
          string,
        ];
      if (!clientId || !(await clientAuthenticated(clientId, secret)))
        return send(401, { error: "invalid_client" });
      const grant = grants.get(form.get("code") ?? "");
      grants.delete(form.get("code") ?? "");
      if (!grant || grant.clientId !== clientId) return send(400, { error: "invalid_grant" });
      if (grant.challenge) {
        const verifier = form.get("code_verifier") ?? "";
        if (createHash("sha256").update(verifier).digest("base64url") !== grant.challenge)
          return send(400, {
            error: "invalid_grant",
            error_description: "PKCE verification failed",
          });
      }
      const accessToken = randomBytes(20).toString("hex");
      accessTokens.set(accessToken, grant.user);
      const body: Record<string, unknown> = {
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: 3600,
      };
      const idTokenIssuer = ID_TOKEN_ISSUERS[host ?? ""];
      if (idTokenIssuer) {
        body.id_token = await new SignJWT({
          email: grant.user.email,
          // Apple sends the flag as a string.
          email_verified:
            host === "appleid.apple.com" ? String(grant.user.verified) : grant.user.verified,
          name: grant.user.name,
          picture: "https://lh3.example/photo.jpg",
          ...(grant.nonce ? { nonce: grant.nonce } : {}),
        })
          .setProtectedHeader({ alg: "RS256", kid: jwk.kid })
          .setIssuer(idTokenIssuer)
          .setAudience(clientId)
          .setSubject(grant.user.id)
          .setIssuedAt()
          .setExpirationTime("1h")
          .sign(privateKey);
      }
      return send(200, body);
    }
    if (host === "accounts.google.com" && path === "/.well-known/openid-configuration")
      return send(200, {
        issuer: "https://accounts.google.com",
        authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
        token_endpoint: "https://oauth2.googleapis.com/token",
        jwks_uri: "https://www.googleapis.com/oauth2/v3/certs",
      });
    if (host === "appleid.apple.com" && path === "/.well-known/openid-configuration")
      return send(200, {
        issuer: "https://appleid.apple.com",
        authorization_endpoint: "https://appleid.apple.com/auth/authorize",
        token_endpoint: "https://appleid.apple.com/auth/token",
        jwks_uri: "https://appleid.apple.com/auth/keys",
      });
    if (host === "appleid.apple.com" && path === "/auth/keys") return send(200, { keys: [jwk] });
    if (host === "www.googleapis.com" && path === "/oauth2/v3/certs")
      return send(200, { keys: [jwk] });
    if (host === "api.github.com" && path === "/user") {
      const user = bearerUser();
      if (!user) return send(401, { message: "Bad credentials" });
      return send(200, {
        id: Number(user.id),
        login: user.name.toLowerCase(),
        name: user.name,
        avatar_url: "https://avatars.example/u",
      });
    }
    if (host === "api.github.com" && path === "/user/emails") {
      const user = bearerUser();
      if (!user) return send(401, { message: "Bad credentials" });
      return send(
        200,
        user.emails ?? [{ email: user.email, primary: true, verified: user.verified }],
      );
    }
    if (host === "discord.com" && path === "/api/users/@me") {
      const user = bearerUser();
      if (!user) return send(401, { message: "401: Unauthorized" });
      return send(200, {
        id: user.id,
        username: user.name,
        global_name: user.name,
        avatar: "abc",
        email: user.email,
        verified: user.verified,
      });
    }
    send(404, { error: "not_found", path: url.pathname });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${port}`,
    clients,
    appleClients,
    get hang() {
      return state.hang;
    },
    set hang(value) {
      state.hang = value;
    },
    get tokenRequests() {
      return tokenRequests;
    },
    approve(authorizationUrl, user) {
      const code = randomBytes(16).toString("hex");
      grants.set(code, {
        user,
        clientId: authorizationUrl.searchParams.get("client_id") ?? "",
        challenge: authorizationUrl.searchParams.get("code_challenge"),
        nonce: authorizationUrl.searchParams.get("nonce"),
      });
      return code;
    },
    stop: () => closeServer(server),
  };
}

/** Sends this process's requests for the providers' public hosts to the fake; returns the undo. */
export function routeToFake(fake: FakeProviders): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input instanceof URL ? input.href : input));
    if (url.protocol !== "https:" || !FAKE_HOSTS.includes(url.host)) return original(input, init);
    const target = `${fake.url}/${url.host}${url.pathname}${url.search}`;
    if (!request) return original(target, init);
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer();
    return original(target, {
      method: request.method,
      headers: request.headers,
      body,
      signal: init?.signal ?? request.signal,
    });
  };
  return () => {
    globalThis.fetch = original;
  };
}
