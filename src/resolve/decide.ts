// The access decision. Invariant: an error can never result in an
// authenticated answer. Only a verified credential produces an identity, and
// every path that is not an explicit allow ends in a denial.
import type { CredentialKind, Requirement } from "./rules.ts";

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

export function credentialKind(identity: Identity): CredentialKind {
  return identity.method === "api-key" || identity.method === "jwt" ? identity.method : "session";
}

const CREDENTIAL_NAMES: Record<CredentialKind, string> = {
  session: "a browser session",
  "api-key": "an API key",
  jwt: "a bearer token",
};

export type Decision =
  | { outcome: "allow"; identity: Identity }
  | { outcome: "anonymous" }
  | { outcome: "unauthenticated" }
  | { outcome: "forbidden"; reason: string };

export function decide(requirement: Requirement, identity: Identity | null): Decision {
  switch (requirement.access) {
    case "deny":
      return { outcome: "forbidden", reason: "access to this resource is denied" };
    case "public":
      return identity ? { outcome: "allow", identity } : { outcome: "anonymous" };
    case "authenticated": {
      if (!identity) return { outcome: "unauthenticated" };
      if (requirement.credentials && !requirement.credentials.has(credentialKind(identity))) {
        const accepted = [...requirement.credentials].map((kind) => CREDENTIAL_NAMES[kind]);
        return {
          outcome: "forbidden",
          reason: `${CREDENTIAL_NAMES[credentialKind(identity)]} is not accepted here; use ${accepted.join(" or ")}`,
        };
      }
      if (requirement.requireVerifiedEmail && !identity.emailVerified) {
        return { outcome: "forbidden", reason: "a verified email address is required" };
      }
      if (
        requirement.roles.length > 0 &&
        !requirement.roles.some((role) => identity.roles.includes(role))
      ) {
        return {
          outcome: "forbidden",
          reason: `one of these roles is required: ${requirement.roles.join(", ")}`,
        };
      }
      return { outcome: "allow", identity };
    }
  }
}
