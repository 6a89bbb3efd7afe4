// A real, certified OpenID Connect provider (the oidc-provider package) on
// loopback, with one confidential client for gatehouse. Its login and consent
// interactions finish at once for the account a test chose with `nextUser`,
// so HTTP tests and the browser journey run through its real endpoints:
// authorization (PKCE, nonce, state), token (code, refresh), JWKS, userinfo.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
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
  stop(): Promise<void>;
};

export async function startOidcProvider(options: {
  redirectUris: string[];
  accessTokenTtlSeconds?: number;
}): Promise<RunningOidcProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "gatehouse-test";
  const clientSecret = "a-client-secret-for-tests-only-0123456789";
  const accounts = new Map<string, TestAccount>();
  let next: TestAccount = { sub: "nobody" };
  let deny: string | null = null;
  const tokenRequests = { authorization_code: 0, refresh_token: 0 };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
    ],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    scopes: ["openid", "email", "profile", "offline_access"],
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account }) };
    },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    ttl: { AccessToken: options.accessTokenTtlSeconds ?? 3600 },
    pkce: { required: () => true },
    cookies: { keys: ["test-cookie-key-0123456789"] },
  });
  provider.on("grant.success", (ctx) => {
    const grant = (ctx as { oidc: { params?: { grant_type?: string } } }).oidc.params?.grant_type;
    if (grant === "authorization_code" || grant === "refresh_token") tokenRequests[grant] += 1;
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
    stop: () => closeServer(server),
  };
}
