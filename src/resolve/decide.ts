// The whole /_resolve policy as one pure function: the original request (or
// why it cannot be read), the rule that matches it, and what the credential
// strategies found → one outcome. No I/O, no clock, no HTTP: the HTTP layer
// only renders outcomes (answer.ts).
//
// Invariant: an error can never result in an authenticated answer. Only a
// verified credential produces an identity; every path that is not an
// explicit allow ends in a denial, and a store that cannot answer serves a
// public resource anonymously and nothing else.
import type { OriginalRequest } from "./original-request.ts";
import type { CredentialKind, Requirement, UpstreamToken } from "./rules.ts";

export type Identity = {
  userId: string;
  email: string;
  emailVerified: boolean;
  name: string;
  roles: string[];
  /** password, oauth:<provider>, api-key, jwt */
  method: string;
  authenticatedAt: Date;
  /** Headers from a trusted issuer's claims (name after the prefix → value). */
  extraHeaders?: Record<string, string>;
};

/** What the credential strategies found (credentials.ts). */
export type CredentialResult =
  | { kind: "none" }
  | { kind: "invalid"; message: string }
  | { kind: "identity"; identity: Identity }
  /** A store or issuer could not answer: neither yes nor no. */
  | { kind: "unavailable" };

export type Outcome =
  | { kind: "allow"; identity: Identity; upstreamToken: UpstreamToken | null }
  | { kind: "anonymous" }
  /** 401 with the login location (or a 302 for a browser navigation that asked for one). */
  | { kind: "unauthenticated" }
  | { kind: "forbidden"; reason: string }
  | { kind: "invalid_request"; reason: string }
  | { kind: "invalid_credential"; reason: string }
  | { kind: "unavailable"; reason: string };

export function credentialKind(identity: Identity): CredentialKind {
  return identity.method === "api-key" || identity.method === "jwt" ? identity.method : "session";
}

const CREDENTIAL_NAMES: Record<CredentialKind, string> = {
  session: "a browser session",
  "api-key": "an API key",
  jwt: "a bearer token",
};

/** A deny rule is decided without credentials: the caller need not read them. */
export function needsCredential(requirement: Requirement): boolean {
  return requirement.access !== "deny";
}

export function decide(input: {
  request: OriginalRequest | { error: string };
  /** The first matching rule's requirement (findRequirement); unused when the request is an error. */
  requirement: Requirement;
  credential: CredentialResult;
}): Outcome {
  const { request, requirement, credential } = input;
  if ("error" in request) return { kind: "invalid_request", reason: request.error };
  if (request.encodedSlashes && !requirement.allowEncodedSlashes)
    return {
      kind: "invalid_request",
      reason:
        "the original path contains an encoded / or \\ (%2F, %5C), which this rule does not allow",
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
      return requirement.access === "public" ? { kind: "anonymous" } : { kind: "unauthenticated" };
  }
  const { identity } = credential;
  if (requirement.access === "public") return { kind: "allow", identity, upstreamToken: null };
  const kind = credentialKind(identity);
  if (requirement.credentials && !requirement.credentials.has(kind)) {
    const accepted = [...requirement.credentials].map((accepted) => CREDENTIAL_NAMES[accepted]);
    return {
      kind: "forbidden",
      reason: `${CREDENTIAL_NAMES[kind]} is not accepted here; use ${accepted.join(" or ")}`,
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
  const upstreamToken = requirement.upstreamToken ?? null;
  if (upstreamToken && kind === "jwt")
    return {
      kind: "forbidden",
      reason:
        "a bearer token from another issuer carries no provider token; use a browser session or an API key",
    };
  return { kind: "allow", identity, upstreamToken };
}

/** What reading the user's provider token gave, for a rule with upstream_token. */
export type UpstreamTokenResult =
  | { kind: "token"; value: string }
  /** The user has no identity at that provider. */
  | { kind: "not_linked"; message: string }
  /** The provider's refresh token is gone or refused: the user must sign in again. */
  | { kind: "expired" }
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
      return { kind: "unauthenticated" };
    case "unavailable":
      return { kind: "unavailable", reason: result.message };
  }
}
