// Calls to a provider, bounded and explained: every call has a deadline, and
// whatever arctic or fetch throws becomes a ProviderError whose message a
// person can read on the sign-in's error page.
import * as arctic from "arctic";
import type { Clock } from "../kernel/clock.ts";

/** How long one call to a provider's API may take; a whole sign-in is bounded by OAUTH_TIMEOUT. */
const FETCH_TIMEOUT_MS = 10_000;

/**
 * Something the provider sent, or failed to send, that ends the sign-in.
 * refused: the provider said no (invalid_grant, ...); invalid: what it sent
 * does not verify; unreachable: no usable answer came.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly kind: "refused" | "invalid" | "unreachable" = "unreachable",
  ) {
    super(message);
  }
}

/** Who the user is at the provider. */
export type ProviderProfile = {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  avatarUrl: string | null;
  /** The ID token's amr (RFC 8176), when it had one: kept as the session's. */
  amr?: string[] | null;
};

export type ProviderTokens = {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date | null;
  idToken: string | null;
};

/** Runs one exchange with a provider within `timeoutMs`; anything it throws becomes a ProviderError. */
export async function callProvider<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ProviderError("the provider did not answer in time")),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work(), timeout]);
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    if (error instanceof arctic.OAuth2RequestError)
      throw new ProviderError(
        `the provider refused: ${error.code}${error.description ? ` (${error.description})` : ""}`,
        "refused",
      );
    if (error instanceof arctic.ArcticFetchError)
      throw new ProviderError("the provider cannot be reached");
    if (
      error instanceof arctic.UnexpectedResponseError ||
      error instanceof arctic.UnexpectedErrorResponseBodyError
    )
      throw new ProviderError("the provider answered with something unexpected");
    throw new ProviderError(`the provider's answer could not be used: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The token endpoint's answer, with its lifetime made an expiry time. */
export function toTokens(tokens: arctic.OAuth2Tokens, clock: Clock): ProviderTokens {
  const data = tokens.data as Record<string, unknown>;
  const expiresIn = typeof data.expires_in === "number" ? data.expires_in : null;
  return {
    accessToken: tokens.accessToken(),
    refreshToken: typeof data.refresh_token === "string" ? data.refresh_token : null,
    expiresAt: expiresIn === null ? null : new Date(clock.now() + expiresIn * 1000),
    idToken: typeof data.id_token === "string" ? data.id_token : null,
  };
}

/** GET on a provider's API with the user's access token (plain OAuth 2.0 profiles). */
export async function fetchProviderJson(url: string, accessToken: string): Promise<unknown> {
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: "application/json",
      "user-agent": "gatehouse",
    },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!response.ok) throw new ProviderError(`${new URL(url).host} answered ${response.status}`);
  return response.json();
}
