// Ordered access rules, matched on the original host, path (as readPath reads
// it) and method. The first matching rule wins; no match means the configured
// default. Paths match case-insensitively unless a rule says otherwise, since
// many backends (Express's default router, IIS, case-insensitive file
// systems) serve `/ADMIN` as `/admin`; a rule naming GET covers HEAD, which
// every server answers like GET.
import { z } from "zod";
import { parseDurationSeconds } from "../settings-types.ts";
import type { OriginalRequest } from "./original-request.ts";

export const IDENTITY_CLAIMS = [
  "user-id",
  "email",
  "email-verified",
  "name",
  "roles",
  "method",
  "authenticated-at",
  "amr",
  "mfa",
  "jwt",
] as const;
export type IdentityClaim = (typeof IDENTITY_CLAIMS)[number];

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];

/**
 * session: a browser cookie; api-key: a personal API key; jwt: a token from a
 * trusted issuer; authjs: an Auth.js (NextAuth) session cookie.
 */
export const CREDENTIAL_KINDS = ["session", "api-key", "jwt", "authjs"] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

const oneOrMany = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]));

export const accessRuleSchema = z
  .object({
    /** A label for people reading the file. */
    name: z.string().optional(),
    host: oneOrMany
      .pipe(
        z.array(
          z
            .string()
            .transform((h) => h.trim().toLowerCase().replace(/\.$/, ""))
            .pipe(
              z
                .string()
                .regex(/^(\*\.)?[a-z0-9.-]+(:\d+)?$/, "must be a host or *.example.com")
                // Hosts are compared without their scheme's default port (browsers never send it).
                .refine(
                  (host) => !/:(80|443)$/.test(host),
                  "leave out :80 and :443: hosts are compared without the default port",
                ),
            ),
        ),
      )
      .optional(),
    path: oneOrMany
      .pipe(
        z.array(
          z
            .string()
            .regex(/^\//, "must start with /")
            // Each `**` is a `.*`: three or more in one pattern backtrack badly on long paths.
            .refine((pattern) => pattern.split("**").length <= 3, "at most two ** in a pattern"),
        ),
      )
      .optional(),
    methods: z
      .array(z.string().transform((m) => m.toUpperCase()))
      .pipe(z.array(z.enum(METHODS as [string, ...string[]])))
      .optional(),
    access: z.enum(["public", "authenticated", "deny"]).optional(),
    roles: z.array(z.string().min(1)).min(1).optional(),
    require_verified_email: z.boolean().default(false),
    /** Match the path patterns case-sensitively (default: case-insensitively). */
    case_sensitive: z.boolean().default(false),
    /** Check the XSRF token of cookie-authenticated unsafe requests here (default: XSRF_PROTECTION). */
    xsrf: z.boolean().optional(),
    /** Accept paths holding an encoded `/` or `\` (`%2F`, `%5C`), refused by default. */
    allow_encoded_slashes: z.boolean().default(false),
    /** A second factor proven in the session (or a passkey sign-in); API keys and JWTs only when `credentials` names them. */
    mfa: z.boolean().default(false),
    /** The session's last proof (of a second factor, with mfa) at most this old: "15m". */
    max_auth_age: z
      .union([z.string(), z.number()])
      .transform((value, ctx) => {
        const seconds = typeof value === "number" ? value : parseDurationSeconds(value);
        if (seconds === undefined || !Number.isInteger(seconds) || seconds < 1) {
          ctx.addIssue({ code: "custom", message: `"${value}" is not a duration like 15m` });
          return z.NEVER;
        }
        return seconds;
      })
      .optional(),
    /** Which kinds of credential may reach it; all when absent. */
    credentials: z.array(z.enum(CREDENTIAL_KINDS)).min(1).optional(),
    /** Pass the user's access token from this OAuth provider upstream. */
    upstream_token: z
      .object({
        provider: z.string().min(1),
        /** `authorization` (as `Bearer <token>`, the default) or another header name (the bare token). */
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/, "a header name")
          .transform((value) => value.toLowerCase())
          .default("authorization"),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (
      !rule.access &&
      !rule.roles &&
      !rule.credentials &&
      !rule.upstream_token &&
      !rule.mfa &&
      rule.max_auth_age === undefined
    ) {
      ctx.addIssue({
        code: "custom",
        message: "a rule needs access (public, authenticated, deny), roles or credentials",
      });
    }
    if (rule.credentials && rule.access && rule.access !== "authenticated") {
      ctx.addIssue({
        code: "custom",
        message: "credentials only make sense with access: authenticated",
      });
    }
    if (rule.upstream_token && rule.access && rule.access !== "authenticated") {
      ctx.addIssue({
        code: "custom",
        message: "upstream_token only makes sense with access: authenticated",
      });
    }
    if (
      (rule.mfa || rule.max_auth_age !== undefined) &&
      rule.access &&
      rule.access !== "authenticated"
    ) {
      ctx.addIssue({
        code: "custom",
        message: "mfa and max_auth_age only make sense with access: authenticated",
      });
    }
    if (rule.roles && rule.access && rule.access !== "authenticated") {
      ctx.addIssue({ code: "custom", message: "roles only make sense with access: authenticated" });
    }
  })
  .transform((rule) => compileRule(rule));

type RuleInput = {
  name?: string;
  host?: string[];
  path?: string[];
  methods?: string[];
  access?: "public" | "authenticated" | "deny";
  roles?: string[];
  require_verified_email: boolean;
  case_sensitive: boolean;
  allow_encoded_slashes: boolean;
  xsrf?: boolean;
  credentials?: CredentialKind[];
  upstream_token?: UpstreamToken;
  mfa: boolean;
  max_auth_age?: number | undefined;
};

export type UpstreamToken = { provider: string; header: string };

type RequirementBase = {
  /** The rule accepts paths with encoded separators (allow_encoded_slashes). */
  allowEncodedSlashes?: true;
  /** The rule's own XSRF setting; absent: XSRF_PROTECTION decides. */
  xsrf?: boolean;
};

export type Requirement =
  | (RequirementBase & { access: "public" })
  | (RequirementBase & { access: "deny" })
  | (RequirementBase & {
      access: "authenticated";
      roles: string[];
      requireVerifiedEmail: boolean;
      /** null: every kind of credential. */
      credentials: ReadonlySet<CredentialKind> | null;
      upstreamToken?: UpstreamToken;
      /** A second factor proven in the session. */
      mfa?: true;
      /** The last proof at most this many milliseconds old. */
      maxAuthAgeMs?: number;
    });

export type AccessRule = {
  hosts: ((host: string) => boolean) | null;
  paths: RegExp | null;
  methods: Set<string> | null;
  requirement: Requirement;
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Compiles path patterns: `/exact` (with or without a trailing slash, which
 * most frameworks route alike), `/prefix/**` (the prefix itself and
 * everything below it), `*` (any characters within one segment).
 */
export function compilePathPatterns(patterns: string[], caseSensitive = false): RegExp {
  const parts = patterns.map((pattern) => {
    let body = pattern;
    let tail = body.endsWith("/") ? "" : "/?";
    if (body.endsWith("/**")) {
      body = body.slice(0, -3);
      tail = "(?:/.*)?";
    }
    const source = body
      .split("**")
      .map((chunk) => chunk.split("*").map(escapeRegExp).join("[^/]*"))
      .join(".*");
    return `${source}${tail}`;
  });
  return new RegExp(`^(?:${parts.join("|")})$`, caseSensitive ? "" : "i");
}

export function compileHostPatterns(patterns: string[]): (host: string) => boolean {
  return (host) =>
    patterns.some((pattern) => {
      const candidate = pattern.includes(":") ? host : host.replace(/:\d+$/, "");
      if (pattern.startsWith("*.")) return candidate.endsWith(pattern.slice(1));
      return candidate === pattern;
    });
}

function compileRule(rule: RuleInput): AccessRule {
  const access = rule.access ?? "authenticated";
  const base: RequirementBase = {
    ...(rule.allow_encoded_slashes ? { allowEncodedSlashes: true } : {}),
    ...(rule.xsrf === undefined ? {} : { xsrf: rule.xsrf }),
  };
  const requirement: Requirement =
    access === "authenticated"
      ? {
          ...base,
          access,
          roles: rule.roles ?? [],
          requireVerifiedEmail: rule.require_verified_email,
          credentials: rule.credentials ? new Set(rule.credentials) : null,
          ...(rule.upstream_token ? { upstreamToken: rule.upstream_token } : {}),
          ...(rule.mfa ? { mfa: true as const } : {}),
          ...(rule.max_auth_age !== undefined ? { maxAuthAgeMs: rule.max_auth_age * 1000 } : {}),
        }
      : { ...base, access };
  const methods = rule.methods ? new Set(rule.methods) : null;
  if (methods?.has("GET")) methods.add("HEAD");
  return {
    hosts: rule.host ? compileHostPatterns(rule.host) : null,
    paths: rule.path ? compilePathPatterns(rule.path, rule.case_sensitive) : null,
    methods,
    requirement,
  };
}

const DEFAULT_REQUIREMENTS: Record<"public" | "authenticated" | "deny", Requirement> = {
  public: { access: "public" },
  authenticated: {
    access: "authenticated",
    roles: [],
    requireVerifiedEmail: false,
    credentials: null,
  },
  deny: { access: "deny" },
};

/** The first matching rule's requirement; the same object for the same rule (or default), so readings compare by identity. */
export function findRequirement(
  rules: AccessRule[],
  request: Pick<OriginalRequest, "method" | "host" | "path">,
  fallback: "public" | "authenticated" | "deny",
): Requirement {
  for (const rule of rules) {
    if (rule.methods && !rule.methods.has(request.method)) continue;
    if (rule.hosts && !rule.hosts(request.host)) continue;
    if (rule.paths && !rule.paths.test(request.path)) continue;
    return rule.requirement;
  }
  return DEFAULT_REQUIREMENTS[fallback];
}
