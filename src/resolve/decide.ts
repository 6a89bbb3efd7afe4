// The whole /_resolve policy as one pure function: the original request (or
// why it cannot be read), the rule that matches it, and what the credential
// strategies found → one outcome. No I/O, no clock, no HTTP: the HTTP layer
// only renders outcomes (answer.ts).
//
// Invariant: an error can never result in an authenticated answer. Only a
// verified credential produces an identity; every path that is not an
// explicit allow ends in a denial, and a store that cannot answer serves a
// public resource anonymously and nothing else.
import { hasMfa, type Identity } from "../kernel/identity.ts";
import { sameToken } from "../sessions/xsrf.ts";
import type { OriginalRequest } from "./original-request.ts";
import type { CredentialKind, Requirement, UpstreamToken } from "./rules.ts";

export type { Identity } from "../kernel/identity.ts";

/** What the credential strategies found (credentials.ts). */
export type CredentialResult =
  /** No credential; `expired` when the cookie named a session that has expired. */
  | { kind: "none"; expired?: true }
  | { kind: "invalid"; message: string }
  | {
      kind: "identity";
      identity: Identity;
      /** A browser session's XSRF token (sessions/xsrf.ts), when the resolver checks them. */
      xsrfToken?: string;
      /** A browser session's site (SITES): null for the home site; absent for other credentials. */
      site?: string | null;
    }
  /** A store or issuer could not answer: neither yes nor no. */
  | { kind: "unavailable" };

export type Outcome =
  | {
      kind: "allow";
      identity: Identity;
      upstreamToken: UpstreamToken | null;
      /** Passed an XSRF check: an auth cache keyed on cookies (not the header) must not keep it. */
      xsrfChecked?: true;
    }
  | { kind: "anonymous" }
  /**
   * 401 with the login location (or a 302 for a browser navigation that
   * asked for one); `expired` when the session has expired (code
   * session_expired rather than unauthenticated).
   */
  | { kind: "unauthenticated"; expired?: true }
  /** 401: the session is alive but the provider refused to refresh its token; sign in with it again. */
  | { kind: "provider_reauth"; provider: string; reason: string }
  | { kind: "forbidden"; reason: string }
  /**
   * 401 to the step-up page (or the enrolment page, for a user with no
   * second factor yet): a signed-in user who must prove a factor (again).
   */
  | { kind: "step_up"; code: StepUpCode; reason: string }
  /** 403: a cookie-authenticated unsafe request without this session's XSRF token. */
  | { kind: "xsrf"; reason: string }
  | { kind: "invalid_request"; reason: string }
  | { kind: "invalid_credential"; reason: string }
  | { kind: "unavailable"; reason: string };

const UNAUTHENTICATED: Outcome = { kind: "unauthenticated" };

/** Why a signed-in user is sent to prove a factor: the JSON code and x-gatehouse-error. */
export type StepUpCode = "mfa_required" | "reauthentication_required" | "mfa_enrolment_required";

const ENROL: Outcome = {
  kind: "step_up",
  code: "mfa_enrolment_required",
  reason: "set up a second factor to continue",
};
const MFA_REQUIRED: Outcome = {
  kind: "step_up",
  code: "mfa_required",
  reason: "prove a second factor to continue",
};
const REAUTHENTICATE: Outcome = {
  kind: "step_up",
  code: "reauthentication_required",
  reason: "this needs a recent sign-in: prove a factor again to continue",
};

/** The development bypass stands in for a browser session. */
export function credentialKind(identity: Identity): CredentialKind {
  const { method } = identity;
  return method === "api-key" || method === "jwt" || method === "authjs" ? method : "session";
}

const CREDENTIAL_NAMES: Record<CredentialKind, string> = {
  session: "a browser session",
  "api-key": "an API key",
  jwt: "a bearer token",
  authjs: "an Auth.js session",
};

/** A deny rule is decided without credentials: the caller need not read them. */
export function needsCredential(requirement: Requirement): boolean {
  return requirement.access !== "deny";
}

/** What the request carried for the XSRF check, and whether rules check it unless they say. */
export type XsrfInput = {
  byDefault: boolean;
  /** The X-XSRF-TOKEN header (or the configured name). */
  header: string | undefined;
  /** Every value of the XSRF-TOKEN cookie (a sibling subdomain may have planted one more). */
  cookies: string[];
};

/** Methods a browser may send cross-site without a preflight... and that must not change anything. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

export function decide(input: {
  request: OriginalRequest | { error: string };
  /** The first matching rule's requirement (findRequirement); unused when the request is an error. */
  requirement: Requirement;
  credential: CredentialResult;
  /** The requirements of the request's other readings (OriginalRequest.otherReadings), in order. */
  otherRequirements?: Requirement[];
  xsrf?: XsrfInput;
  /** The time, for max_auth_age (epoch ms). */
  now?: number;
  /** Users with one of these roles must have a second factor before anything protected resolves. */
  mfaRequiredRoles?: readonly string[];
}): Outcome {
  const { request, requirement, credential } = input;
  if ("error" in request) return { kind: "invalid_request", reason: request.error };
  if (request.encodedSlashes && !requirement.allowEncodedSlashes)
    return {
      kind: "invalid_request",
      reason:
        "the original path contains an encoded / or \\ (%2F, %5C), which this rule does not allow",
    };
  // The application might act on another reading: judge only when every
  // reading falls under the same rule.
  const differing = request.otherReadings.findIndex(
    (_, i) => input.otherRequirements?.[i] !== requirement,
  );
  if (differing !== -1)
    return {
      kind: "invalid_request",
      reason: `the request's ${request.otherReadings[differing]?.why} falls under another rule`,
    };
  if (requirement.access === "deny")
    return { kind: "forbidden", reason: "access to this resource is denied" };
  switch (credential.kind) {
    case "invalid":
      // Never a fall-back to another credential or to anonymous access.
      return { kind: "invalid_credential", reason: credential.message };
    case "unavailable":
      return requirement.access === "public"
        ? { kind: "anonymous" }
        : { kind: "unavailable", reason: "cannot check credentials right now" };
    case "none":
      if (requirement.access === "public") return { kind: "anonymous" };
      return credential.expired ? { kind: "unauthenticated", expired: true } : UNAUTHENTICATED;
  }
  const { identity } = credential;
  const kind = credentialKind(identity);
  // Cookie-authenticated: gatehouse's own sessions and Auth.js sessions, each
  // with its token (an HMAC under its cookie). The development bypass
  // carries no cookie at all.
  const xsrfChecked =
    (requirement.xsrf ?? input.xsrf?.byDefault ?? false) &&
    (kind === "session" || kind === "authjs") &&
    identity.method !== "dev-bypass" &&
    !SAFE_METHODS.has(request.method);
  if (xsrfChecked) {
    const problem = xsrfProblem(credential.xsrfToken, input.xsrf);
    if (problem) return { kind: "xsrf", reason: problem };
  }
  const allowed = (upstreamToken: UpstreamToken | null): Outcome =>
    xsrfChecked
      ? { kind: "allow", identity, upstreamToken, xsrfChecked: true }
      : { kind: "allow", identity, upstreamToken };
  if (requirement.access === "public") return allowed(null);
  if (requirement.credentials && !requirement.credentials.has(kind)) {
    const accepted = [...requirement.credentials].map((accepted) => CREDENTIAL_NAMES[accepted]);
    return {
      kind: "forbidden",
      reason: `${CREDENTIAL_NAMES[kind]} is not accepted here; use ${accepted.join(" or ")}`,
    };
  }
  // The development bypass stands in for any session, second factor included.
  const bypass = identity.method === "dev-bypass";
  if (
    kind === "session" &&
    !bypass &&
    input.mfaRequiredRoles &&
    input.mfaRequiredRoles.length > 0 &&
    !canProveSecondFactor(identity) &&
    identity.roles.some((role) => input.mfaRequiredRoles?.includes(role))
  )
    return ENROL;
  let stepUp: Outcome | null = null;
  if ((requirement.mfa || requirement.maxAuthAgeMs !== undefined) && !bypass) {
    if (kind === "session") stepUp = stepUpNeeded(identity, requirement, input.now ?? Date.now());
    // A rule that names the credential in `credentials` accepts it as it is.
    else if (!requirement.credentials?.has(kind))
      return {
        kind: "forbidden",
        reason: `${CREDENTIAL_NAMES[kind]} cannot prove a second factor or a recent sign-in; this resource needs a browser session${requirement.mfa ? " with a second factor" : ""}`,
      };
  }
  if (requirement.requireVerifiedEmail && !identity.emailVerified)
    return { kind: "forbidden", reason: "a verified email address is required" };
  if (
    requirement.roles.length > 0 &&
    !requirement.roles.some((role) => identity.roles.includes(role))
  )
    return {
      kind: "forbidden",
      reason: `one of these roles is required: ${requirement.roles.join(", ")}`,
    };
  // After the 403s a second factor would not fix: never a step-up that ends in one.
  if (stepUp) return stepUp;
  const upstreamToken = requirement.upstreamToken ?? null;
  if (upstreamToken && kind === "jwt")
    return {
      kind: "forbidden",
      reason:
        "a bearer token from another issuer carries no provider token; use a browser session or an API key",
    };
  if (upstreamToken && kind === "authjs")
    return {
      kind: "forbidden",
      reason:
        "an Auth.js session carries no provider token gatehouse holds; use a gatehouse session or an API key",
    };
  return allowed(upstreamToken);
}

/** The user has a second factor to prove (one enrolled, or the session was made with one: a passkey). */
function canProveSecondFactor(identity: Identity): boolean {
  return identity.auth?.enrolled === true || hasMfa(identity);
}

/** What a session must still prove for a rule with mfa or max_auth_age; null when it meets it. */
function stepUpNeeded(
  identity: Identity,
  requirement: Extract<Requirement, { access: "authenticated" }>,
  now: number,
): Outcome | null {
  const { auth } = identity;
  if (!auth) return requirement.mfa ? ENROL : REAUTHENTICATE;
  const maxAge = requirement.maxAuthAgeMs;
  if (requirement.mfa) {
    // No factor to prove: enrolment, never a loop back to the step-up page.
    if (!canProveSecondFactor(identity)) return ENROL;
    if (!hasMfa(identity)) return MFA_REQUIRED;
    if (maxAge !== undefined && now - (auth.secondFactorAt ?? 0) > maxAge) return REAUTHENTICATE;
    return null;
  }
  if (maxAge !== undefined && now - auth.lastProofAt > maxAge) return REAUTHENTICATE;
  return null;
}

/**
 * Signed double-submit: the header must be present, equal one of the
 * cookie's values, and be this session's token. Bearer credentials are
 * exempt (a browser never sends them on its own).
 */
function xsrfProblem(expected: string | undefined, xsrf: XsrfInput | undefined): string | null {
  if (!xsrf?.header) return "the XSRF header is missing: send the XSRF-TOKEN cookie's value in it";
  if (!xsrf.cookies.some((cookie) => sameToken(cookie, xsrf.header as string)))
    return "the XSRF header does not match the XSRF cookie";
  if (expected === undefined || !sameToken(xsrf.header, expected))
    return "the XSRF token does not belong to this session: reload the page to get a new one";
  return null;
}

/** What reading the user's provider token gave, for a rule with upstream_token. */
export type UpstreamTokenResult =
  | { kind: "token"; value: string }
  /** The user has no identity at that provider. */
  | { kind: "not_linked"; message: string }
  /** The provider's refresh token is gone or refused: the user must sign in with it again. */
  | { kind: "expired"; message: string }
  | { kind: "unavailable"; message: string };

/** The second step of an allow whose rule passes a provider token upstream. */
export function decideUpstream(
  allowed: Extract<Outcome, { kind: "allow" }>,
  result: UpstreamTokenResult,
): Outcome {
  switch (result.kind) {
    case "token":
      return allowed;
    case "not_linked":
      return { kind: "forbidden", reason: result.message };
    case "expired":
      // The gatehouse session is alive: not a sign-out, a sign-in with that provider.
      return allowed.upstreamToken
        ? {
            kind: "provider_reauth",
            provider: allowed.upstreamToken.provider,
            reason: result.message,
          }
        : UNAUTHENTICATED;
    case "unavailable":
      return { kind: "unavailable", reason: result.message };
  }
}
