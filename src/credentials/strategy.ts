// Credential strategies: each reads one kind of credential from a request and
// says "not mine", "this identity" or "invalid". The decision (resolve/decide)
// never knows how a credential was read. Invariant: a present Authorization
// header is answered by a bearer strategy or is invalid; it never falls back
// to the session cookie. Cookies are asked in order (gatehouse's session,
// then Auth.js's): "none" from one (no such cookie, or a session that is
// gone) asks the next; an identity, "invalid" or "unavailable" is the answer.
import type { CredentialResult } from "../resolve/decide.ts";

/** The parts of a request credentials come from. */
export type CredentialSource = {
  /** The token of `Authorization: Bearer <token>`; undefined when there is no Authorization header. */
  bearer: string | undefined;
  cookie: string | undefined;
};

/** Not this strategy's kind of credential: the next one is asked. */
export const NOT_MINE = Symbol("not mine");

export type CredentialStrategy = {
  /** For logs and metrics: session, api-key, jwt. */
  name: string;
  /** Throws only when a store or issuer cannot answer. */
  read(source: CredentialSource): typeof NOT_MINE | CredentialResult | Promise<CredentialResult>;
};

const BEARER = /^\s*Bearer +([\x21-\x7e]{1,8192})\s*$/i;
const NONE: CredentialResult = { kind: "none" };
const NOT_BEARER: CredentialResult = {
  kind: "invalid",
  message: "the Authorization header must be Bearer <token>",
};
const UNKNOWN_BEARER: CredentialResult = {
  kind: "invalid",
  message: "the bearer token is not valid",
};
const UNAVAILABLE: CredentialResult = { kind: "unavailable" };

/** Asks each strategy in turn; a strategy's failure is "unavailable", never an identity. */
export async function readCredential(
  strategies: readonly CredentialStrategy[],
  request: { authorization: string | undefined; cookie: string | undefined },
  onError: (error: unknown, strategy: string) => void,
): Promise<CredentialResult> {
  let bearer: string | undefined;
  if (request.authorization !== undefined) {
    bearer = BEARER.exec(request.authorization)?.[1];
    if (bearer === undefined) return NOT_BEARER;
  }
  const source: CredentialSource = { bearer, cookie: request.cookie };
  // "none" marked expired (a session that has expired) is kept over a plain "none".
  let none = NONE;
  for (const strategy of strategies) {
    try {
      const read = strategy.read(source);
      if (read === NOT_MINE) continue;
      const result = await read;
      if (result.kind !== "none") return result;
      if (result.expired) none = result;
    } catch (error) {
      onError(error, strategy.name);
      return UNAVAILABLE;
    }
  }
  return bearer === undefined ? none : UNKNOWN_BEARER;
}
