// The hosted endpoints under AUTH_PREFIX: one handler per operation, serving
// both the JSON API (application/json) and the hosted pages' form posts
// (application/x-www-form-urlencoded). Form posts answer with pages and 303
// redirects; JSON requests with the one JSON shape.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import type { EmailFlows } from "../accounts/email-flows.ts";
import type { AccountService, SignedIn } from "../accounts/service.ts";
import type { ApiKeyService } from "../api-keys/service.ts";
import type { Config } from "../config.ts";
import { ERROR_STATUS, ServiceError } from "../errors.ts";
import type { OAuthService } from "../oauth/service.ts";
import {
  type HostPolicy,
  isCrossSiteRequest,
  validateRedirectTarget,
} from "../security/redirect-target.ts";
import type { SessionService } from "../sessions/service.ts";
import type { ResolvedSession } from "../sessions/store.ts";
import { type AppEnv, clientMeta, cookieValues } from "./context.ts";
import { addOAuthRoutes } from "./oauth-routes.ts";
import {
  accountPage,
  forgotPasswordPage,
  loginPage,
  messagePage,
  type PageContext,
  registerPage,
  resetPasswordPage,
  STYLE_HASH_SOURCE,
  verifyEmailPage,
} from "./pages.ts";

export type AuthRouteDeps = {
  config: Config;
  accounts: AccountService;
  emailFlows: EmailFlows;
  sessions: SessionService;
  apiKeys: ApiKeyService;
  oauth: OAuthService;
  logError: (error: unknown, context: string) => void;
};

const MAX_BODY_BYTES = 16 * 1024;

/** `form`: answer with pages and redirects rather than JSON. */
type Input = { form: boolean; data: Record<string, unknown> };

/** Reads a JSON or form body as a flat record; anything else is a 4xx. */
async function readInput(c: Context<AppEnv>): Promise<Input> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "application/json") {
    // Read outside the try: a body that is too large or too slow is not "invalid JSON".
    const text = await c.req.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new ServiceError("invalid_request", "The body is not valid JSON.");
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new ServiceError("invalid_request", "The body must be a JSON object.");
    }
    return { form: false, data: data as Record<string, unknown> };
  }
  if (type === "application/x-www-form-urlencoded") {
    const params = new URLSearchParams(await c.req.text());
    const data: Record<string, unknown> = {};
    for (const key of new Set(params.keys())) {
      const values = params.getAll(key);
      data[key] = values.length === 1 ? values[0] : values;
    }
    // A form post answers with pages, unless the client asked for JSON only.
    const accept = c.req.header("accept") ?? "";
    return { form: !accept.includes("application/json") || accept.includes("text/html"), data };
  }
  throw new ServiceError(
    "unsupported_media_type",
    "Send application/json or application/x-www-form-urlencoded.",
  );
}

/**
 * A body has `seconds` to arrive in full, counted from the request's head: a
 * client trickling bytes gets a 408 (and, its body unread, a closed
 * connection) instead of holding the request open. Every read of the body
 * below this middleware (the size limit, the handlers) goes through it.
 */
function bodyDeadline(seconds: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const method = c.req.method;
    const body = method === "GET" || method === "HEAD" ? null : c.req.raw.body;
    if (!body) return next();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ServiceError(
              "request_timeout",
              `The request body did not arrive within ${seconds} s.`,
            ),
          ),
        seconds * 1000,
      );
    });
    expired.catch(() => {});
    const reader = body.getReader();
    const timed = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await Promise.race([reader.read(), expired]);
        if (!chunk.done) return controller.enqueue(chunk.value);
        clearTimeout(timer);
        controller.close();
      },
      cancel: (reason) => reader.cancel(reason),
    });
    c.req.raw = new Request(c.req.raw, { body: timed, duplex: "half" } as RequestInit);
    try {
      await next();
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Every answer under AUTH_PREFIX (pages and JSON alike; never /_resolve):
 * no framing, no sniffing, no referrer beyond this origin, a CSP that allows
 * the pages' one inline stylesheet by hash (and same-origin stylesheets, for
 * themes) and nothing else, and no-store unless a route chose otherwise:
 * every answer here is about one person or one flow. No form-action: the
 * browser applies it to the redirects after a post too, and those go to
 * allowed hosts and sign-in providers.
 */
function hostedPageHeaders(https: boolean): MiddlewareHandler<AppEnv> {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'", STYLE_HASH_SOURCE],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
    referrerPolicy: "same-origin",
    // Only where it means something, and only for this host: its subdomains are not ours to decide.
    strictTransportSecurity: https ? "max-age=15552000" : false,
  });
  return async (c, next) => {
    await headers(c, next);
    if (!c.res.headers.has("cache-control")) c.res.headers.set("Cache-Control", "no-store");
  };
}

/** Bodiless posts (logout, revoke) answer JSON to API clients and redirect browsers. */
function wantsJson(c: Context<AppEnv>): boolean {
  return (
    (c.req.header("content-type") ?? "").includes("application/json") ||
    (c.req.header("accept") ?? "").includes("application/json")
  );
}

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function authRoutes(deps: AuthRouteDeps) {
  const { config, accounts, emailFlows, sessions, apiKeys, oauth } = deps;
  const prefix = config.auth_prefix;
  const page: PageContext = { siteName: config.site_name, prefix, providers: oauth.list() };
  const hostPolicy: HostPolicy = {
    publicUrl: config.public_url,
    allowedHosts: config.allowed_redirect_hosts,
  };
  const cookieOptions = {
    path: "/",
    httpOnly: true,
    secure: config.secure_cookies,
    sameSite: "Lax" as const,
    ...(config.cookie_domain ? { domain: config.cookie_domain } : {}),
  };

  /** The answer to a request whose outcome arrives by email: the same whatever the address. */
  const checkYourEmail = (message: string) =>
    messagePage(page, "Check your email", message, {
      href: `${prefix}/login`,
      text: "Back to sign in",
    });
  const redirectTarget = (rd: unknown) => validateRedirectTarget(rd, hostPolicy);
  const rdFrom = (c: Context<AppEnv>, data?: Record<string, unknown>) =>
    redirectTarget(c.req.query("rd") ?? data?.rd);
  const meta = (c: Context<AppEnv>) => clientMeta(c, config.trusted_proxies);

  function startSession(c: Context<AppEnv>, signedIn: SignedIn) {
    setCookie(c, config.session_cookie, signedIn.token, {
      ...cookieOptions,
      maxAge: config.session_max_age,
    });
  }

  async function currentSession(c: Context<AppEnv>): Promise<ResolvedSession | null> {
    try {
      return await sessions.validateAny(
        cookieValues(c.req.header("cookie"), config.session_cookie),
      );
    } catch (error) {
      deps.logError(error, "session lookup");
      throw new ServiceError("unavailable", "Sessions cannot be checked right now.", 1);
    }
  }

  async function requireSession(c: Context<AppEnv>): Promise<ResolvedSession> {
    const resolved = await currentSession(c);
    if (!resolved) throw new ServiceError("unauthenticated", "Sign in to continue.");
    return resolved;
  }

  /** Runs a form-or-JSON operation; a ServiceError on a form post re-renders the page with the message. */
  async function handle(
    c: Context<AppEnv>,
    run: (input: Input) => Promise<Response>,
    renderError: (input: Input, message: string) => ReturnType<typeof loginPage>,
  ): Promise<Response> {
    let input: Input | undefined;
    try {
      input = await readInput(c);
      return await run(input);
    } catch (error) {
      if (!(error instanceof ServiceError) || !input?.form) throw error;
      if (error.retryAfter !== undefined) c.header("Retry-After", String(error.retryAfter));
      c.status(ERROR_STATUS[error.code]);
      return c.html(renderError(input, error.message));
    }
  }

  const app = new Hono<AppEnv>();

  // Outermost, so errors and refusals get them too.
  app.use("*", hostedPageHeaders(config.secure_cookies));
  app.use("*", bodyDeadline(config.body_timeout));
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ServiceError(
          "payload_too_large",
          `The body must be at most ${MAX_BODY_BYTES} bytes.`,
        );
      },
    }),
  );

  // State-changing requests from another site's pages are refused (CSRF). A
  // provider's callback is the exception: Apple's arrives as a cross-site
  // POST, and the flow's state and cookie are its protection.
  const isProviderCallback = (path: string) =>
    path.startsWith(`${prefix}/oauth/`) && path.endsWith("/callback");
  app.use("*", async (c, next) => {
    const safe = c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS";
    if (!safe && !isProviderCallback(c.req.path)) {
      const crossSite = isCrossSiteRequest(
        { origin: c.req.header("origin"), secFetchSite: c.req.header("sec-fetch-site") },
        hostPolicy,
      );
      if (crossSite)
        throw new ServiceError("cross_site_request", "Cross-site requests are not allowed.");
    }
    await next();
  });

  app.get("/login", (c) =>
    c.html(loginPage(page, { rd: rdFrom(c), registrationEnabled: config.registration_enabled })),
  );

  app.post("/login", (c) =>
    handle(
      c,
      async ({ form, data }) => {
        const signedIn = await accounts.login(
          { email: data.email, password: data.password },
          meta(c),
        );
        startSession(c, signedIn);
        const target = rdFrom(c, data) ?? config.default_redirect;
        if (form) return c.redirect(target, 303);
        return c.json({ user: signedIn.user, redirect: target });
      },
      ({ data }, error) =>
        loginPage(page, {
          rd: rdFrom(c, data),
          email: optionalString(data.email),
          error,
          registrationEnabled: config.registration_enabled,
        }),
    ),
  );

  app.get("/register", (c) => {
    if (!config.registration_enabled) {
      c.status(403);
      return c.html(
        messagePage(page, "Registration is closed", "New accounts cannot be created here."),
      );
    }
    return c.html(registerPage(page, { rd: rdFrom(c) }));
  });

  app.post("/register", (c) =>
    handle(
      c,
      async ({ form, data }) => {
        const result = await accounts.register(
          { email: data.email, password: data.password, name: data.name },
          meta(c),
        );
        const target = rdFrom(c, data) ?? config.default_redirect;
        const signedIn = "created" in result ? result.signedIn : undefined;
        if (signedIn) startSession(c, signedIn);
        if (form) {
          if (signedIn) return c.redirect(target, 303);
          return c.html(
            checkYourEmail("If this address can be registered, we have sent it the next step."),
          );
        }
        // The same answer for a new and an existing address.
        return c.json({ status: "ok", redirect: target }, 201);
      },
      ({ data }, error) =>
        registerPage(page, {
          rd: rdFrom(c, data),
          email: optionalString(data.email),
          name: optionalString(data.name),
          error,
        }),
    ),
  );

  // Email links: the GET shows a page whose button POSTs, so a mail scanner
  // that follows the link uses nothing up.
  const invalidLinkPage = (c: Context<AppEnv>, message: string, again?: string) => {
    c.status(400);
    c.header("Cache-Control", "no-store");
    return c.html(
      messagePage(
        page,
        "This link does not work",
        message,
        again ? { href: again, text: "Ask for a new link" } : undefined,
      ),
    );
  };
  const linkPage = (c: Context<AppEnv>, error: unknown, again?: string) => {
    if (error instanceof ServiceError && error.code === "invalid_token")
      return invalidLinkPage(c, error.message, again);
    throw error;
  };

  app.get("/verify-email", async (c) => {
    const token = c.req.query("token") ?? "";
    try {
      await emailFlows.checkLink(token, "verify_email");
    } catch (error) {
      return linkPage(c, error, `${prefix}/account`);
    }
    c.header("Cache-Control", "no-store");
    return c.html(verifyEmailPage(page, { token }));
  });

  app.post("/verify-email", (c) =>
    handle(
      c,
      async ({ form, data }) => {
        // The browser presenting the link keeps its own session (it holds the
        // account and the mailbox); a store that cannot say keeps nothing.
        const presenting = await currentSession(c).catch(() => null);
        const { removed, signedIn } = await emailFlows.confirmVerification(
          data.token,
          meta(c),
          presenting && {
            sessionId: presenting.session.id,
            userId: presenting.user.id,
            method: presenting.session.method,
          },
        );
        c.header("Cache-Control", "no-store");
        if (!form) return c.json({ status: "ok", removed });
        // Confirmed from a browser not signed in to the account: whoever set
        // its password may not be the address's owner.
        const notMine = removed && !signedIn;
        return c.html(
          messagePage(
            page,
            "Address confirmed",
            removed
              ? `Thank you: your email address is confirmed. ${emailFlows.describeRemoved(removed)}${notMine ? " If you did not create this account yourself, choose a new password now: its password was set by whoever registered it." : ""}`
              : "Thank you: your email address is confirmed.",
            notMine
              ? { href: `${prefix}/forgot-password`, text: "Choose a new password" }
              : { href: config.default_redirect, text: "Continue" },
          ),
        );
      },
      (_input, error) => {
        c.header("Cache-Control", "no-store");
        return messagePage(page, "This link does not work", error, {
          href: `${prefix}/account`,
          text: "Ask for a new link",
        });
      },
    ),
  );

  app.post("/verify-email/resend", async (c) => {
    const resolved = await requireSession(c);
    try {
      const { alreadyVerified } = await emailFlows.resendVerification(resolved.user);
      if (wantsJson(c)) return c.json({ status: alreadyVerified ? "already_verified" : "sent" });
      return renderAccount(c, resolved, {
        notice: alreadyVerified
          ? "Your address is already confirmed."
          : `We have sent a new confirmation link to ${resolved.user.email}.`,
      });
    } catch (error) {
      if (!(error instanceof ServiceError) || wantsJson(c)) throw error;
      return accountError(c, resolved, error);
    }
  });

  app.get("/forgot-password", (c) => c.html(forgotPasswordPage(page, {})));

  app.post("/forgot-password", (c) =>
    handle(
      c,
      async ({ form, data }) => {
        await emailFlows.requestPasswordReset(data.email, meta(c));
        if (!form) return c.json({ status: "ok" }, 202);
        return c.html(
          checkYourEmail(
            "If an account uses this address, we have sent it a link to choose a new password.",
          ),
        );
      },
      ({ data }, error) => forgotPasswordPage(page, { email: optionalString(data.email), error }),
    ),
  );

  app.get("/reset-password", async (c) => {
    const token = c.req.query("token") ?? "";
    try {
      await emailFlows.checkLink(token, "reset_password");
    } catch (error) {
      return linkPage(c, error, `${prefix}/forgot-password`);
    }
    c.header("Cache-Control", "no-store");
    return c.html(resetPasswordPage(page, { token }));
  });

  app.post("/reset-password", async (c) => {
    let input: Input | undefined;
    try {
      input = await readInput(c);
      const { removed } = await emailFlows.resetPassword(
        input.data.token,
        input.data.password,
        meta(c),
      );
      deleteCookie(c, config.session_cookie, cookieOptions);
      if (!input.form) return c.json({ status: "ok", removed });
      return c.html(
        loginPage(page, {
          notice: `Your password was changed and every session signed out.${removed ? ` ${emailFlows.describeRemoved(removed)}` : ""} Sign in with the new password.`,
          registrationEnabled: config.registration_enabled,
        }),
      );
    } catch (error) {
      if (!(error instanceof ServiceError) || !input?.form) throw error;
      if (error.code === "invalid_token")
        return invalidLinkPage(c, error.message, `${prefix}/forgot-password`);
      if (error.retryAfter !== undefined) c.header("Retry-After", String(error.retryAfter));
      c.status(ERROR_STATUS[error.code]);
      return c.html(
        resetPasswordPage(page, {
          token: optionalString(input.data.token) ?? "",
          error: error.message,
        }),
      );
    }
  });

  app.post("/password", async (c) => {
    const resolved = await requireSession(c);
    let input: Input | undefined;
    try {
      input = await readInput(c);
      const { data } = input;
      const { signedOut } = await accounts.changePassword(
        { user: resolved.user, sessionId: resolved.session.id },
        {
          currentPassword: data.currentPassword,
          newPassword: data.newPassword,
          signOutOthers: [true, "true", "on"].includes(data.signOutOthers as string),
        },
        meta(c),
      );
      if (!input.form) return c.json({ status: "ok", signedOut });
      return renderAccount(c, resolved, {
        notice:
          signedOut > 0
            ? `Your password was changed, and ${signedOut} other session${signedOut === 1 ? " was" : "s were"} signed out.`
            : "Your password was changed.",
      });
    } catch (error) {
      if (!(error instanceof ServiceError) || !input?.form) throw error;
      return accountError(c, resolved, error);
    }
  });

  addOAuthRoutes(app, {
    config,
    oauth,
    page,
    currentSession,
    requireSession,
    startSession,
    rdFrom: (c) => rdFrom(c),
    meta,
    wantsJson,
  });

  // Signing out changes state, so it is POST only; GET shows a page with the button.
  app.get("/logout", (c) =>
    c.html(
      messagePage(page, "Sign out", "Use the button on your account page to sign out.", {
        href: `${prefix}/account`,
        text: "Go to your account",
      }),
    ),
  );

  app.post("/logout", async (c) => {
    const resolved = await currentSession(c);
    if (resolved) await accounts.logout(resolved.session.id, resolved.user.id, meta(c));
    deleteCookie(c, config.session_cookie, cookieOptions);
    if (wantsJson(c)) return c.json({ status: "ok" });
    return c.redirect(`${prefix}/login`, 303);
  });

  app.get("/userinfo", async (c) => {
    c.header("Cache-Control", "no-store");
    const { user, session } = await requireSession(c);
    return c.json({
      id: user.id,
      email: user.email,
      emailVerified: user.emailVerified,
      name: user.name,
      roles: user.roles,
      method: session.method,
      authenticatedAt: session.authenticatedAt.toISOString(),
    });
  });

  async function renderAccount(
    c: Context<AppEnv>,
    resolved: ResolvedSession,
    extra: { newKey?: { name: string; key: string }; error?: string; notice?: string } = {},
  ) {
    c.header("Cache-Control", "no-store");
    return c.html(
      accountPage(page, {
        user: resolved.user,
        sessions: await sessions.list(resolved.user.id),
        currentSessionId: resolved.session.id,
        apiKeys: await apiKeys.list(resolved.user.id),
        identities: await oauth.identities(resolved.user.id),
        ...extra,
      }),
    );
  }

  /** A form on the account page failed: the page again, with the message. */
  function accountError(c: Context<AppEnv>, resolved: ResolvedSession, error: ServiceError) {
    if (error.retryAfter !== undefined) c.header("Retry-After", String(error.retryAfter));
    c.status(ERROR_STATUS[error.code]);
    return renderAccount(c, resolved, { error: error.message });
  }

  app.get("/account", async (c) => {
    const resolved = await currentSession(c);
    if (!resolved)
      return c.redirect(
        `${prefix}/login?rd=${encodeURIComponent(`${config.public_url.origin}${prefix}/account`)}`,
        302,
      );
    return renderAccount(c, resolved);
  });

  // Personal API keys: managed with a browser session only (a key cannot mint keys).
  app.get("/api-keys", async (c) => {
    c.header("Cache-Control", "no-store");
    const { user } = await requireSession(c);
    return c.json({ apiKeys: await apiKeys.list(user.id) });
  });

  app.post("/api-keys", async (c) => {
    const resolved = await requireSession(c);
    let input: Input | undefined;
    try {
      input = await readInput(c);
      const { data } = input;
      const days = data.expiresInDays ?? data.expires_in_days;
      // Needs a verified address and a recent sign-in (the service checks both).
      const created = await apiKeys.create({
        userId: resolved.user.id,
        name: typeof data.name === "string" ? data.name : "",
        expiresInDays: days === undefined || days === "" ? undefined : Number(days),
        session: resolved.session,
      });
      c.header("Cache-Control", "no-store");
      if (input.form)
        return renderAccount(c, resolved, {
          newKey: { name: created.apiKey.name, key: created.key },
        });
      return c.json(created, 201);
    } catch (error) {
      if (!(error instanceof ServiceError) || !input?.form) throw error;
      return accountError(c, resolved, error);
    }
  });

  // Revoking needs a recent sign-in too; the account page's button gets the page back with the message.
  const revokeKey = async (c: Context<AppEnv>) => {
    const resolved = await requireSession(c);
    try {
      if (!(await apiKeys.revoke(resolved.user.id, c.req.param("id") ?? "", resolved.session)))
        throw new ServiceError("not_found", "No such API key.");
    } catch (error) {
      if (!(error instanceof ServiceError) || c.req.method === "DELETE" || wantsJson(c))
        throw error;
      return accountError(c, resolved, error);
    }
    return c.req.method === "DELETE"
      ? c.json({ status: "ok" })
      : c.redirect(`${prefix}/account`, 303);
  };
  app.delete("/api-keys/:id", revokeKey);
  app.post("/api-keys/:id/revoke", revokeKey);

  app.get("/sessions", async (c) => {
    const { user, session: current } = await requireSession(c);
    const list = await sessions.list(user.id);
    return c.json({
      sessions: list.map((session) => ({
        id: session.id,
        current: session.id === current.id,
        method: session.method,
        createdAt: session.createdAt.toISOString(),
        ip: session.ip,
        userAgent: session.userAgent,
      })),
    });
  });

  const revokeOne = async (c: Context<AppEnv>) => {
    const { user } = await requireSession(c);
    const id = c.req.param("id") ?? "";
    const owned = (await sessions.list(user.id)).some((session) => session.id === id);
    if (!owned) throw new ServiceError("not_found", "No such session.");
    await sessions.revoke(id);
    return c.req.method === "DELETE"
      ? c.json({ status: "ok" })
      : c.redirect(`${prefix}/account`, 303);
  };
  app.delete("/sessions/:id", revokeOne);
  app.post("/sessions/:id/revoke", revokeOne);

  app.post("/sessions/revoke-others", async (c) => {
    const { user, session } = await requireSession(c);
    const count = await sessions.revokeAllForUser(user.id, session.id);
    return wantsJson(c)
      ? c.json({ status: "ok", revoked: count })
      : c.redirect(`${prefix}/account`, 303);
  });

  return app;
}
