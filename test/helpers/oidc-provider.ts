// A real, certified OpenID Connect provider (the oidc-provider package) on
// loopback, with one confidential client for gatehouse. Its login and consent
// interactions finish at once for the account a test chose with `nextUser`,
// so HTTP tests and the browser journey run through its real endpoints:
// authorization (PKCE, nonce, state), token (code, refresh), JWKS, userinfo,
// and both ways of signing out: RP-initiated logout (end_session_endpoint)
// and back-channel logout, which the provider's "admin" (`endSessionsOf`)
// triggers as its own logout does. `signLogoutToken` signs a logout token of
// the test's making with the provider's key (or a stranger's) for the
// attacks a real provider never sends.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import Provider from "oidc-provider";
import { closeServer } from "./http.ts";
import { freePort } from "./ports.ts";

export type TestAccount = {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
};

export type RunningOidcProvider = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account the next login interaction signs in as. */
  nextUser(account: TestAccount): void;
  /** Requests seen by the token endpoint, by grant type. */
  tokenRequests: { authorization_code: number; refresh_token: number };
  /** Refuse the next authorization with this error (access_denied, ...). */
  denyNext(error: string): void;
  /** The provider's session ids (`sid`) given to the client, by subject, in sign-in order. */
  sids: Map<string, string[]>;
  /** The provider's admin ends every session of this subject: a back-channel logout per session. */
  endSessionsOf(sub: string): Promise<void>;
  /** A logout token with these claims (and the usual ones unless given), signed with the provider's key or a stranger's under the same kid. */
  signLogoutToken(claims: JWTPayload, options?: { foreignKey?: boolean }): Promise<string>;
  /** Back-channel logouts the provider sent, and how they ended. */
  backchannel: { success: number; error: string[] };
  stop(): Promise<void>;
};

async function signingKey(kid: string): Promise<{ privateJwk: JWK; privateKey: CryptoKey }> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" },
    privateKey,
  };
}

export async function startOidcProvider(options: {
  redirectUris: string[];
  accessTokenTtlSeconds?: number;
  /** Registered for RP-initiated logout. */
  postLogoutRedirectUris?: string[];
  /** Where the provider posts logout tokens; ID tokens then carry `sid`. */
  backchannelLogoutUri?: string;
}): Promise<RunningOidcProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "gatehouse-test";
  const clientSecret = "a-client-secret-for-tests-only-0123456789";
  const accounts = new Map<string, TestAccount>();
  let next: TestAccount = { sub: "nobody" };
  let deny: string | null = null;
  const tokenRequests = { authorization_code: 0, refresh_token: 0 };
  const sids = new Map<string, string[]>();
  const backchannel = { success: 0, error: [] as string[] };
  const [own, stranger] = await Promise.all([
    signingKey("provider-key"),
    signingKey("provider-key"),
  ]);

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        ...(options.postLogoutRedirectUris
          ? { post_logout_redirect_uris: options.postLogoutRedirectUris }
          : {}),
        ...(options.backchannelLogoutUri
          ? {
              backchannel_logout_uri: options.backchannelLogoutUri,
              backchannel_logout_session_required: true,
            }
          : {}),
      },
    ],
    jwks: { keys: [own.privateJwk] },
    // Its outgoing requests (logout tokens) refuse loopback addresses unless told otherwise.
    fetch: (url: string | URL | Request, init?: RequestInit) => {
      const { dispatcher: _, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
      return fetch(url, rest);
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    scopes: ["openid", "email", "profile", "offline_access"],
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account }) };
    },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    ttl: { AccessToken: options.accessTokenTtlSeconds ?? 3600 },
    pkce: { required: () => true },
    cookies: { keys: ["test-cookie-key-0123456789"] },
  });
  provider.on("grant.success", (ctx) => {
    const grant = (ctx as { oidc: { params?: { grant_type?: string } } }).oidc.params?.grant_type;
    if (grant === "authorization_code" || grant === "refresh_token") tokenRequests[grant] += 1;
    const code = (
      ctx as { oidc: { entities?: { AuthorizationCode?: { accountId: string; sid?: string } } } }
    ).oidc.entities?.AuthorizationCode;
    if (grant === "authorization_code" && code?.sid)
      sids.set(code.accountId, [...(sids.get(code.accountId) ?? []), code.sid]);
  });
  provider.on("backchannel.success", () => {
    backchannel.success += 1;
  });
  provider.on("backchannel.error", (_ctx, error: Error) => {
    backchannel.error.push(error.message);
  });
  // A plain http issuer is fine on loopback; the provider only needs to be told it is not behind TLS.
  provider.proxy = false;

  const callback = provider.callback();
  async function interaction(req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    if (deny) {
      const error = deny;
      deny = null;
      await provider.interactionFinished(req, res, {
        error,
        error_description: "the user said no",
      });
      return;
    }
    const account = next;
    accounts.set(account.sub, account);
    if (details.prompt.name === "login") {
      await provider.interactionFinished(req, res, { login: { accountId: account.sub } });
      return;
    }
    const grant = new provider.Grant({
      accountId: details.session?.accountId ?? account.sub,
      clientId: String(details.params.client_id),
    });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  }

  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      interaction(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  return {
    issuer,
    clientId,
    clientSecret,
    tokenRequests,
    nextUser(account) {
      next = account;
    },
    denyNext(error) {
      deny = error;
    },
    sids,
    backchannel,
    async endSessionsOf(sub) {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error("the test client is gone");
      const logout = client as unknown as {
        backchannelLogout(sub: string, sid: string): Promise<void>;
      };
      for (const sid of sids.get(sub) ?? []) await logout.backchannelLogout(sub, sid);
    },
    async signLogoutToken(claims, tokenOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      const key = tokenOptions.foreignKey ? stranger : own;
      return new SignJWT({
        iss: issuer,
        aud: clientId,
        iat: now,
        exp: now + 120,
        jti: crypto.randomUUID(),
        events: { "http://schemas.openid.net/event/backchannel-logout": {} },
        ...claims,
      })
        .setProtectedHeader({ alg: "RS256", kid: "provider-key", typ: "logout+jwt" })
        .sign(key.privateKey);
    },
    stop: () => closeServer(server),
  };
}
