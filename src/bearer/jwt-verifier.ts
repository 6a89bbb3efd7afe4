// Moved to trusted-issuers/verifier.ts; kept for credentials/trusted-jwt.ts
// until its import names the new place (then this folder goes).
export { type JwtVerifier, looksLikeJwt } from "../trusted-issuers/verifier.ts";
