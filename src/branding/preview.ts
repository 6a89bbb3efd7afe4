// AUTH_PREFIX/preview: every page state rendered with the current branding,
// one per URL (AUTH_PREFIX/preview/<state>) and an index linking them, so a
// designer checks them all at once. The real page functions, fixed sample
// data, nothing stored or sent. ?brand=<name> shows a brand of BRANDS.
// Invariant: reachable only with PREVIEW_PAGES=true or by a signed-in admin
// (ADMIN_ROLE, as the admin console checks it); anyone else gets the 404 of
// a path that does not exist.
import { Hono, type MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { renderSVG } from "uqr";
import { AUDIT_EVENT_TYPES } from "../accounts/audit.ts";
import { ServiceError } from "../errors.ts";
import type { AuthEnv, AuthKit } from "../http/auth/kit.ts";
import type { SessionMiddleware } from "../http/auth/session.ts";
import { accountPage } from "../http/pages/account.ts";
import { adminAuditPage, adminUserPage, adminUsersPage } from "../http/pages/admin.ts";
import { acceptInvitationPage, adminInvitationsPage } from "../http/pages/invitations.ts";
import { type Content, layout, type PageContext } from "../http/pages/layout.ts";
import { messagePage } from "../http/pages/message.ts";
import { recoveryCodesPage, stepUpPage, totpSetupPage } from "../http/pages/mfa.ts";
import { passkeyAccountSection } from "../http/pages/passkeys.ts";
import {
  forgotPasswordPage,
  loginPage,
  registerPage,
  resetPasswordPage,
  verifyEmailPage,
} from "../http/pages/sign-in.ts";

const AT = "2026-11-02T09:30:00.000Z";
const DAY = new Date(AT);
const EMAIL = "ada@example.com";
const TOKEN = "preview-token-not-valid";
const USER = {
  id: "u-preview",
  email: EMAIL,
  emailVerified: true,
  name: "Ada Lovelace",
  roles: ["admin"],
};
const SESSION = {
  id: "s-preview",
  userId: USER.id,
  method: "password",
  authenticatedAt: DAY,
  amr: ["pwd"],
  factorTimes: {},
  idleExpiresAt: DAY,
  expiresAt: DAY,
  ip: "203.0.113.7",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
  createdAt: DAY,
};
const API_KEY = {
  id: "k-preview",
  name: "deploy script",
  start: "gh_live_3f9a",
  createdAt: AT,
  expiresAt: null,
  lastUsedAt: AT,
};
const EVENT = {
  id: 1,
  at: AT,
  type: "user.login",
  userId: USER.id,
  actorId: USER.id,
  ip: SESSION.ip,
  userAgent: SESSION.userAgent,
  outcome: "success",
  detail: {},
};
const CODES = ["4k7m-2p9q", "h3xn-8c5t", "r6wd-1j4v", "b9ye-7s2g", "m5fa-3q8k", "t2lc-6n7h"];
const QR = renderSVG("otpauth://totp/Preview:ada%40example.com?secret=JBSWY3DPEHPK3PXP", {
  pixelSize: 4,
});

type State = { id: string; render(ctx: PageContext): Content };

/** Every state, in the order the index lists them; each label is preview.state.<id>. */
const STATES: State[] = [
  { id: "login", render: (ctx) => loginPage(ctx, { registrationEnabled: true }) },
  {
    id: "login-error",
    render: (ctx) =>
      loginPage(ctx, {
        email: EMAIL,
        error: ctx.t("preview.sample.loginError"),
        registrationEnabled: true,
      }),
  },
  {
    id: "login-notice",
    render: (ctx) =>
      loginPage(ctx, { notice: ctx.t("preview.sample.notice"), registrationEnabled: true }),
  },
  { id: "register", render: (ctx) => registerPage(ctx, {}) },
  {
    id: "register-error",
    render: (ctx) =>
      registerPage(ctx, { email: EMAIL, error: ctx.t("preview.sample.registerError") }),
  },
  { id: "forgot", render: (ctx) => forgotPasswordPage(ctx, {}) },
  { id: "reset", render: (ctx) => resetPasswordPage(ctx, { token: TOKEN }) },
  { id: "verify", render: (ctx) => verifyEmailPage(ctx, { token: TOKEN }) },
  {
    id: "check-email",
    render: (ctx) =>
      messagePage(ctx, ctx.t("preview.sample.checkEmailTitle"), ctx.t("preview.sample.checkEmail")),
  },
  {
    id: "account",
    render: (ctx) =>
      accountPage(ctx, {
        user: USER,
        sessions: [SESSION],
        currentSessionId: SESSION.id,
        apiKeys: [API_KEY],
        identities: [],
        factors: { totp: { since: AT }, recoveryCodesLeft: 6, enrolled: true },
        securityEvents: [EVENT],
        notice: ctx.t("preview.sample.notice"),
      }),
  },
  {
    id: "passkeys",
    render: (ctx) =>
      accountPage(ctx, {
        user: USER,
        sessions: [SESSION],
        currentSessionId: SESSION.id,
        apiKeys: [],
        identities: [],
        passkeys: passkeyAccountSection(ctx, {
          passkeys: [
            { id: "p-preview", name: "Laptop", createdAt: AT, lastUsedAt: AT, backedUp: true },
          ],
          emailVerified: true,
        }),
      }),
  },
  {
    id: "mfa-step-up",
    render: (ctx) => stepUpPage(ctx, { kinds: ["totp", "recovery"], signingIn: true }),
  },
  {
    id: "mfa-step-up-error",
    render: (ctx) =>
      stepUpPage(ctx, {
        kinds: ["totp", "recovery"],
        signingIn: true,
        error: ctx.t("preview.sample.codeError"),
      }),
  },
  {
    id: "totp-setup",
    render: (ctx) =>
      totpSetupPage(ctx, {
        setup: { secret: "JBSWY3DPEHPK3PXP", uri: "otpauth://totp/Preview", qrSvg: QR },
        enabled: false,
      }),
  },
  {
    id: "recovery-codes",
    render: (ctx) =>
      recoveryCodesPage(ctx, { codes: CODES, next: `${ctx.prefix}/account`, enabledNow: true }),
  },
  {
    id: "invitation",
    render: (ctx) => acceptInvitationPage(ctx, { token: TOKEN, email: EMAIL }),
  },
  {
    id: "admin-users",
    render: (ctx) =>
      adminUsersPage(ctx, {
        users: [{ ...USER, disabled: false, createdAt: AT }],
        filters: {},
        nextHref: null,
      }),
  },
  {
    id: "admin-user",
    render: (ctx) =>
      adminUserPage(ctx, {
        user: { ...USER, disabled: false, createdAt: AT },
        password: { updatedAt: AT },
        identities: [],
        sessions: [SESSION],
        apiKeys: [API_KEY],
        events: [EVENT],
      }),
  },
  {
    id: "admin-invitations",
    render: (ctx) =>
      adminInvitationsPage(ctx, {
        open: true,
        invitations: [
          {
            id: "i-preview",
            email: "grace@example.com",
            roles: ["editor"],
            invitedBy: USER.id,
            createdAt: AT,
            expiresAt: AT,
            acceptedAt: null,
            acceptedUserId: null,
            status: "pending",
          },
        ],
      }),
  },
  {
    id: "admin-audit",
    render: (ctx) =>
      adminAuditPage(ctx, {
        events: [EVENT],
        filters: {},
        types: AUDIT_EVENT_TYPES,
        olderHref: null,
      }),
  },
  {
    id: "logged-out",
    render: (ctx) =>
      messagePage(ctx, ctx.t("preview.sample.loggedOutTitle"), ctx.t("preview.sample.loggedOut"), {
        href: `${ctx.prefix}/login`,
        text: ctx.t("preview.sample.signInAgain"),
      }),
  },
  {
    id: "link-broken",
    render: (ctx) =>
      messagePage(ctx, ctx.t("preview.sample.brokenTitle"), ctx.t("preview.sample.broken"), {
        href: `${ctx.prefix}/forgot-password`,
        text: ctx.t("preview.sample.newLink"),
      }),
  },
];

export const PREVIEW_STATES = STATES.map((state) => state.id);

export function previewRoutes(kit: AuthKit, session: SessionMiddleware) {
  const { config, prefix } = kit;
  const app = new Hono<AuthEnv>();

  const guard: MiddlewareHandler<AuthEnv> = async (c, next) => {
    const signedIn = config.preview_pages ? null : await session.lookUp(c);
    if (!config.preview_pages && !signedIn?.user.roles.includes(config.admin_role))
      throw new ServiceError("not_found", "No such endpoint.");
    const name = c.req.query("brand");
    if (name !== undefined) {
      const brand = kit.brands.named(name);
      if (!brand)
        throw new ServiceError(
          "not_found",
          `No brand named "${name.slice(0, 64)}"; there are ${kit.brands.all.map((one) => one.id).join(", ")}.`,
        );
      c.set("brand", brand);
    }
    await next();
  };
  app.use("/preview", guard);
  app.use("/preview/*", guard);

  const query = (c: { req: { query(name: string): string | undefined } }) => {
    const brand = c.req.query("brand");
    return brand ? `?brand=${encodeURIComponent(brand)}` : "";
  };

  app.get("/preview", (c) => {
    const ctx = kit.page(c);
    const { t } = ctx;
    return c.html(
      layout(
        ctx,
        t("preview.title"),
        html`<h1>${t("preview.title")}</h1>
<p>${t("preview.intro", { brand: ctx.brand.id })}</p>
${
  kit.brands.all.length > 1
    ? html`<p>${t("preview.brands")} ${kit.brands.all.map(
        (brand, i) =>
          html`${i > 0 ? ", " : ""}<a href="${prefix}/preview?brand=${brand.id}">${brand.id}</a>`,
      )}</p>`
    : ""
}
<ul>${STATES.map(
          (state) =>
            html`<li><a href="${prefix}/preview/${state.id}${query(c)}">${t(`preview.state.${state.id}`)}</a></li>`,
        )}</ul>`,
        true,
      ),
    );
  });

  app.get("/preview/:state", (c) => {
    const state = STATES.find((one) => one.id === c.req.param("state"));
    if (!state)
      throw new ServiceError("not_found", `No such state; there are ${PREVIEW_STATES.join(", ")}.`);
    return c.html(state.render(kit.page(c)));
  });

  return app;
}
