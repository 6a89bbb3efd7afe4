// OpenID Connect Back-Channel Logout 1.0, section 2.6: a logout token is
// accepted only when every check holds. The signature, with an asymmetric
// algorithm from the allow-list, by a key the provider publishes; `iss` the
// provider; `aud` this client (and `azp` when there are several audiences);
// `iat` neither in the future nor older than LOGOUT_TOKEN_MAX_AGE_SECONDS,
// with CLOCK_SKEW_SECONDS either way; `exp`, when present, not passed; the
// back-channel logout event in `events`; `sid` or `sub`; no `nonce` (an ID
// token is never a logout token). Anything else is a LogoutTokenError, which
// the endpoint answers with 400 and changes nothing.
import { errors, type JWTPayload, jwtVerify } from "jose";
import { ASYMMETRIC_ALGORITHMS } from "../kernel/oidc-discovery.ts";
import type { OidcIssuer } from "./id-tokens.ts";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A logout token is acted on this long after it was issued, at most. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;
export const CLOCK_SKEW_SECONDS = 60;
/** Longer than a logout token can be, unless it is not one. */
const MAX_TOKEN_LENGTH = 8192;

export class LogoutTokenError extends Error {}

export type LogoutClaims = {
  jti: string;
  iat: number;
  sid: string | null;
  sub: string | null;
};

const text = (value: unknown) => (typeof value === "string" && value.length > 0 ? value : null);

export async function verifyLogoutToken(
  token: string,
  options: { issuer: OidcIssuer; clientId: string; now: number },
): Promise<LogoutClaims> {
  if (token.length > MAX_TOKEN_LENGTH || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
    throw new LogoutTokenError("the logout token is not a signed JWT");
  const keys = await options.issuer.keys();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      audience: options.clientId,
      requiredClaims: ["iss", "aud", "iat", "jti", "events"],
      // exp, when present, is checked with the same skew; iat below.
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(options.now),
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout))
      throw new LogoutTokenError(`the logout token is not valid: ${error.message}`);
    throw error;
  }
  if (!options.issuer.isIssuer(payload.iss, payload))
    throw new LogoutTokenError("the logout token is not valid: unexpected iss");
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== options.clientId)
    throw new LogoutTokenError("the logout token is not valid: it was issued to another party");
  const nowSeconds = options.now / 1000;
  const iat = payload.iat as number;
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS)
    throw new LogoutTokenError("the logout token is not valid: iat is in the future");
  if (iat < nowSeconds - LOGOUT_TOKEN_MAX_AGE_SECONDS - CLOCK_SKEW_SECONDS)
    throw new LogoutTokenError(
      `the logout token is not valid: it was issued more than ${LOGOUT_TOKEN_MAX_AGE_SECONDS} s ago`,
    );
  const events = payload.events;
  if (
    !events ||
    typeof events !== "object" ||
    Array.isArray(events) ||
    typeof (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] !== "object" ||
    (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] === null
  )
    throw new LogoutTokenError(
      `the logout token is not valid: events has no ${BACKCHANNEL_LOGOUT_EVENT} member`,
    );
  if ("nonce" in payload)
    throw new LogoutTokenError("the logout token is not valid: it must not carry a nonce");
  const sid = text(payload.sid);
  const sub = text(payload.sub);
  if (!sid && !sub) throw new LogoutTokenError("the logout token is not valid: no sid and no sub");
  const jti = text(payload.jti);
  if (!jti) throw new LogoutTokenError("the logout token is not valid: jti is empty");
  return { jti, iat, sid, sub };
}
