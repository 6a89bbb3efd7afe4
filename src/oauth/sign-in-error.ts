// Why a sign-in (or a link) with a provider did not complete, said to a
// person: the routes answer it with a page whose status is `status`.

export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 502,
    message: string,
  ) {
    super(message);
  }
}

export const STARTED_ELSEWHERE =
  "This sign-in was not started in this browser, was already used, or took too long. Please start again.";

export const LINK_NEEDS_VERIFIED_EMAIL =
  "Confirm your email address first: sign-in providers can only be linked once the address is confirmed. Use the link we sent you, or ask for a new one on your account page.";
