// The admin console's view of the accounts: a list that stays fast with
// hundreds of thousands of users (keyset pagination on an index, prefix
// search on indexed columns, never a count or an OFFSET), and one account's
// whole picture. Read-only; what changes an account is in admin.ts.
import { and, asc, desc, eq, gt, isNotNull, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { oauthIdentities, passwordCredentials, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import { hasControlCharacters } from "../security/text.ts";

export type UserSort = "created" | "email";

export type UserListQuery = {
  /** A prefix of the address or of the name (case-insensitive). */
  q?: string;
  verified?: boolean;
  disabled?: boolean;
  role?: string;
  provider?: string;
  sort?: UserSort;
  /** The `next` of the previous page. */
  cursor?: string;
  limit?: number;
};

export type UserRow = {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string;
  roles: string[];
  disabled: boolean;
  createdAt: string;
};

export const MAX_PAGE = 100;

/** The next code point after a prefix's last: [prefix, upper) holds exactly the strings that start with it. */
function upperBound(prefix: string): string {
  const points = [...prefix];
  const last = points.pop() as string;
  return points.join("") + String.fromCodePoint((last.codePointAt(0) as number) + 1);
}

function encodeCursor(value: unknown[]): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function decodeCursor(cursor: string, sort: UserSort): [string, string] | [string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(value) &&
      value.every(
        (part) => typeof part === "string" && part.length <= 400 && !hasControlCharacters(part),
      ) &&
      value.length === (sort === "created" ? 2 : 1) &&
      (sort !== "created" || !Number.isNaN(Date.parse(value[0] as string)))
    )
      return value as [string, string] | [string];
  } catch {}
  throw new ServiceError("invalid_request", "The page cursor is not valid: start from page one.");
}

function toRow(row: typeof users.$inferSelect): UserRow {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.emailVerified,
    name: row.name,
    roles: row.roles,
    disabled: row.disabledAt !== null,
    createdAt: row.createdAt.toISOString(),
  };
}

export function userDirectory(db: Database) {
  /** The page's query (one row more than the page, to know there is a next). */
  function listQuery(query: UserListQuery) {
    const sort = query.sort ?? "created";
    const limit = Math.min(Math.max(query.limit ?? 50, 1), MAX_PAGE);
    const where: SQL[] = [];
    const q = query.q?.normalize("NFKC").trim().toLowerCase();
    if (q) {
      // The text_pattern_ops indexes answer these range comparisons (~>=~, ~<~) with any parameter.
      const upper = upperBound(q);
      const byEmail = sql`(${users.email} ~>=~ ${q} and ${users.email} ~<~ ${upper})`;
      const byName = sql`(lower(${users.name}) ~>=~ ${q} and lower(${users.name}) ~<~ ${upper})`;
      where.push(q.includes("@") ? byEmail : (or(byEmail, byName) as SQL));
    }
    if (query.verified !== undefined) where.push(eq(users.emailVerified, query.verified));
    if (query.disabled !== undefined)
      where.push(query.disabled ? isNotNull(users.disabledAt) : isNull(users.disabledAt));
    if (query.role) where.push(sql`${users.roles} @> array[${query.role}]::text[]`);
    if (query.provider)
      where.push(
        sql`exists (select 1 from ${oauthIdentities} where ${oauthIdentities.userId} = ${users.id} and ${oauthIdentities.provider} = ${query.provider})`,
      );
    if (query.cursor) {
      const after = decodeCursor(query.cursor, sort);
      where.push(
        sort === "created"
          ? sql`(${users.createdAt}, ${users.id}) < (${new Date(after[0]).toISOString()}::timestamptz, ${after[1] as string})`
          : gt(users.email, after[0]),
      );
    }
    const rows = db
      .select()
      .from(users)
      .where(and(...where))
      .orderBy(
        ...(sort === "created" ? [desc(users.createdAt), desc(users.id)] : [asc(users.email)]),
      )
      .limit(limit + 1);
    return { rows, sort, limit };
  }

  return {
    /** For measuring: the SQL a list runs (the scale test explains it). */
    listSql: (query: UserListQuery) => listQuery(query).rows.toSQL(),

    async list(query: UserListQuery): Promise<{ users: UserRow[]; next: string | null }> {
      const built = listQuery(query);
      const { sort, limit } = built;
      const rows = await built.rows;
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const next =
        rows.length > limit && last
          ? encodeCursor(
              sort === "created" ? [last.createdAt.toISOString(), last.id] : [last.email],
            )
          : null;
      return { users: page.map(toRow), next };
    },

    /** The account, whether it has a password, and its linked providers; null when there is none. */
    async get(userId: string) {
      const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
      if (!row) return null;
      const [password] = await db
        .select({ updatedAt: passwordCredentials.updatedAt })
        .from(passwordCredentials)
        .where(eq(passwordCredentials.userId, userId))
        .limit(1);
      const identities = await db
        .select({
          id: oauthIdentities.id,
          provider: oauthIdentities.provider,
          email: oauthIdentities.email,
          emailVerified: oauthIdentities.emailVerified,
          createdAt: oauthIdentities.createdAt,
          lastLoginAt: oauthIdentities.lastLoginAt,
        })
        .from(oauthIdentities)
        .where(eq(oauthIdentities.userId, userId));
      return {
        user: toRow(row),
        password: password ? { updatedAt: password.updatedAt.toISOString() } : null,
        identities: identities.map((one) => ({
          ...one,
          createdAt: one.createdAt.toISOString(),
          lastLoginAt: one.lastLoginAt?.toISOString() ?? null,
        })),
      };
    },

    /** The user with this address (canonical), for the CLI. */
    async idByEmail(email: string): Promise<string | null> {
      const [row] = await db
        .select({ id: users.id })
        .from(users)
        .where(eq(users.email, email))
        .limit(1);
      return row?.id ?? null;
    },
  };
}

export type UserDirectory = ReturnType<typeof userDirectory>;
