// Who a request is, once a credential has been verified: what /_resolve
// sends upstream and what the signed assertion states. Every credential
// (session cookie, API key, trusted JWT, ...) produces this one shape.

export type Identity = {
  userId: string;
  email: string;
  emailVerified: boolean;
  name: string;
  roles: string[];
  /** password, oauth:<provider>, api-key, jwt, authjs, dev-bypass */
  method: string;
  authenticatedAt: Date;
  /**
   * A browser session's authentication: RFC 8176 amr values, when anything
   * was last proven and when a second factor was (null: never), and whether
   * the user has a second factor to prove. Absent for other credentials.
   */
  auth?: {
    amr: string[];
    lastProofAt: number;
    secondFactorAt: number | null;
    enrolled: boolean;
  };
  /** Headers from a trusted issuer's claims (name after the prefix → value). */
  extraHeaders?: Record<string, string>;
};

/** The amr an answer states: a session's RFC 8176 values, else how the credential was read (api-key, jwt...). */
export function amrClaim(identity: Identity): string[] {
  const amr = identity.auth?.amr;
  return amr && amr.length > 0 ? amr : [identity.method];
}

/** A second factor was proven in this session (or the sign-in itself was a passkey's, or the provider's mfa). */
export function hasMfa(identity: Identity): boolean {
  return identity.auth !== undefined && identity.auth.secondFactorAt !== null;
}
