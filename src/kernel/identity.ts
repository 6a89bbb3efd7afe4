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
  /** Headers from a trusted issuer's claims (name after the prefix → value). */
  extraHeaders?: Record<string, string>;
};
