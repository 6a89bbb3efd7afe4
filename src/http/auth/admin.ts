// The admin console's reading side under AUTH_PREFIX/admin: the user list
// (search, filters, sorting, keyset pages), one user's page, and the audit
// trail. Each path answers a page to a browser and JSON to `Accept:
// application/json`. Who may come in is decided by admin-guard.ts, once, for
// every route here and in admin-actions.ts.
import { type Context, Hono } from "hono";
import { AUDIT_EVENT_TYPES } from "../../accounts/audit.ts";
import { canonicalizeEmail } from "../../accounts/email.ts";
import { ServiceError } from "../../errors.ts";
import { hasControlCharacters } from "../../security/text.ts";
import {
  type AdminUserView,
  adminAuditPage,
  adminUserPage,
  adminUsersPage,
} from "../pages/admin.ts";
import { requireAdmin, wantsPage } from "./admin-guard.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware } from "./session.ts";

const PAGE = 50;

/** "yes" / "no" / "" (any) → true / false / undefined; anything else a 400. */
function yesNo(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "yes" || value === "true") return true;
  if (value === "no" || value === "false") return false;
  throw new ServiceError("invalid_request", `${name} must be yes or no.`);
}

function text(name: string, value: string | undefined, max: number): string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (value.length > max) throw new ServiceError("invalid_request", `${name} is too long.`);
  // PostgreSQL text cannot hold NUL, and no address, name or role holds a control character.
  if (hasControlCharacters(value))
    throw new ServiceError("invalid_request", `${name} must not contain control characters.`);
  return value.trim();
}

function moment(name: string, value: string | undefined): Date | undefined {
  if (!value) return undefined;
  // A datetime-local field has no zone: it is read as UTC, as the pages show times.
  const parsed = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(parsed.getTime()))
    throw new ServiceError(
      "invalid_request",
      `${name} must be a date and time like 2026-05-01T12:00.`,
    );
  return parsed;
}

/** This path with the query's filters and one value changed. */
function hrefWith(c: Context, key: string, value: string): string {
  const url = new URL(c.req.url);
  url.searchParams.set(key, value);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

/** Everything a user's page shows: the account, its sessions, keys, second factors, recent events. */
export async function adminUserView(
  kit: AuthKit,
  found: NonNullable<Awaited<ReturnType<AuthKit["directory"]["get"]>>>,
): Promise<AdminUserView> {
  const id = found.user.id;
  const [sessions, apiKeys, factors, events] = await Promise.all([
    kit.sessions.list(id),
    kit.apiKeys.list(id),
    kit.factors.overview(id),
    kit.audits.list({ userId: id, limit: 20 }),
  ]);
  return { ...found, sessions, apiKeys, factors, events };
}

export function adminViewRoutes(kit: AuthKit, session: SessionMiddleware) {
  const app = new Hono<AuthEnv>();
  const admin = requireAdmin(kit, session);

  app.get("/admin", admin, (c) => c.redirect(`${kit.prefix}/admin/users`, 302));

  app.get("/admin/users", admin, async (c) => {
    const query = c.req.query();
    const sort = query.sort || "created";
    if (sort !== "created" && sort !== "email")
      throw new ServiceError("invalid_request", "sort must be created or email.");
    const limit = query.limit ? Number(query.limit) : PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new ServiceError("invalid_request", "limit must be a whole number from 1 to 100.");
    const filters = {
      q: text("q", query.q, 254),
      verified: yesNo("verified", query.verified),
      disabled: yesNo("disabled", query.disabled),
      role: text("role", query.role, 64),
      provider: text("provider", query.provider, 64),
    };
    const { users, next } = await kit.directory.list({
      ...filters,
      sort,
      limit,
      cursor: text("cursor", query.cursor, 1000),
    });
    if (!wantsPage(c)) return c.json({ users, next });
    return c.html(
      adminUsersPage(kit.page(c), {
        users,
        filters: { ...query, sort },
        nextHref: next ? hrefWith(c, "cursor", next) : null,
      }),
    );
  });

  app.get("/admin/users/:id", admin, async (c) => {
    const id = c.req.param("id");
    const found = await kit.directory.get(id);
    if (!found) throw new ServiceError("not_found", "No such user.");
    const view = await adminUserView(kit, found);
    if (!wantsPage(c)) return c.json(view);
    const done = c.req.query("done");
    const notice =
      done &&
      /^[a-z-]{1,30}$/.test(done) &&
      kit.page(c).t(`admin.done.${done}`) !== `admin.done.${done}`
        ? kit.page(c).t(`admin.done.${done}`)
        : undefined;
    return c.html(adminUserPage(kit.page(c), view, { notice }));
  });

  app.get("/admin/audit", admin, async (c) => {
    const query = c.req.query();
    const type = text("type", query.type, 64);
    if (type !== undefined && !AUDIT_EVENT_TYPES.includes(type as never))
      throw new ServiceError("invalid_request", "type is not a kind of audit event.");
    const before = query.before ? Number(query.before) : undefined;
    if (before !== undefined && (!Number.isSafeInteger(before) || before < 1))
      throw new ServiceError("invalid_request", "before must be an event id.");
    // The user filter takes an id or an address.
    let userId = text("user", query.user, 254);
    if (userId?.includes("@"))
      userId = (await kit.directory.idByEmail(canonicalizeEmail(userId) ?? userId)) ?? userId;
    const events = await kit.audits.list({
      userId,
      type,
      since: moment("since", query.since),
      until: moment("until", query.until),
      before,
      limit: PAGE + 1,
    });
    const page = events.slice(0, PAGE);
    const older = events.length > PAGE ? String(page.at(-1)?.id) : null;
    if (!wantsPage(c)) return c.json({ events: page, next: older });
    return c.html(
      adminAuditPage(kit.page(c), {
        events: page,
        filters: query,
        types: AUDIT_EVENT_TYPES,
        olderHref: older ? hrefWith(c, "before", older) : null,
      }),
    );
  });

  return app;
}
