// The page states /auth/preview shows (auth/preview.ts): each rendered by the
// real page function with fixed sample data. A state's label in the index is
// the message preview.state.<id>.
import { renderSVG } from "uqr";
import { AUDIT_EVENT_TYPES } from "../../accounts/audit.ts";
import { accountPage } from "./account.ts";
import { adminAuditPage, adminUserPage, adminUsersPage } from "./admin.ts";
import { acceptInvitationPage, adminInvitationsPage } from "./invitations.ts";
import type { Content, PageContext } from "./layout.ts";
import { messagePage } from "./message.ts";
import { recoveryCodesPage, stepUpPage, totpSetupPage } from "./mfa.ts";
import { passkeyAccountSection } from "./passkeys.ts";
import {
  forgotPasswordPage,
  loginPage,
  registerPage,
  resetPasswordPage,
  verifyEmailPage,
} from "./sign-in.ts";

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

export type PreviewState = { id: string; render(ctx: PageContext): Content };

/** Every state, in the order the index lists them; each label is preview.state.<id>. */
export const PREVIEW_STATES: PreviewState[] = [
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
        factors: { totp: { since: AT }, recoveryCodesLeft: 6, passkeys: 1, enrolled: true },
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
        factors: {
          totp: { since: AT },
          recoveryCodesLeft: 6,
          passkeys: [
            { id: "sample", name: "Work laptop", createdAt: AT, lastUsedAt: AT, backedUp: true },
          ],
        },
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
