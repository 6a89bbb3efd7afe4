// A token issuer on loopback for bearer-JWT tests: OpenID discovery, a JWKS
// it can rotate, a count of JWKS fetches, and a signer for any claims.
import { createServer } from "node:http";
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { closeServer } from "./http.ts";

type Key = { kid: string; alg: string; privateKey: CryptoKey; publicJwk: JWK };

export async function newKey(
  alg: "RS256" | "ES256" | "EdDSA",
  kid: string = crypto.randomUUID(),
): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

export async function startTokenIssuer() {
  let keys: Key[] = [await newKey("RS256"), await newKey("ES256"), await newKey("EdDSA")];
  let jwksFetches = 0;
  const server = createServer((request, response) => {
    const send = (body: unknown) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/.well-known/openid-configuration")
      return send({ issuer, jwks_uri: `${issuer}/jwks.json` });
    if (request.url === "/jwks.json") {
      jwksFetches += 1;
      return send({ keys: keys.map((key) => key.publicJwk) });
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  const issuer = `http://127.0.0.1:${address.port}`;

  return {
    issuer,
    keys: () => keys,
    jwksFetches: () => jwksFetches,
    /** Publishes these keys instead (a rotation at the issuer). */
    publish(next: Key[]) {
      keys = next;
    },
    /** Signs claims (defaults: this issuer, 5 minutes of life) with a key (default: the first RS256). */
    async sign(
      claims: JWTPayload,
      options: { key?: Key; header?: Record<string, unknown>; noExp?: boolean } = {},
    ) {
      const key = options.key ?? (keys[0] as Key);
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({
        iss: issuer,
        iat: now,
        ...(options.noExp ? {} : { exp: now + 300 }),
        ...claims,
      }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...options.header });
      return jwt.sign(key.privateKey);
    },
    stop: () => closeServer(server),
  };
}
