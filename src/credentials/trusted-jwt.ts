// `Authorization: Bearer <JWT>` from a configured trusted issuer.
import { type JwtVerifier, looksLikeJwt } from "../trusted-issuers/verifier.ts";
import { type CredentialStrategy, NOT_MINE } from "./strategy.ts";

export function trustedJwtStrategy(verifier: Pick<JwtVerifier, "verify">): CredentialStrategy {
  return {
    name: "jwt",
    read({ bearer }) {
      if (bearer === undefined || !looksLikeJwt(bearer)) return NOT_MINE;
      return verifier
        .verify(bearer)
        .then((identity) =>
          identity
            ? { kind: "identity", identity }
            : { kind: "invalid", message: "the bearer token is not valid" },
        );
    },
  };
}
