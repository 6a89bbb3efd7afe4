// The one error type services throw. The HTTP edge maps each code to a status
// and renders { error: { code, message, requestId } }.

export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_email: 400,
  weak_password: 400,
  wrong_password: 400,
  invalid_token: 400,
  invalid_code: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  forbidden: 403,
  email_not_verified: 403,
  reauthentication_required: 403,
  mfa_required: 403,
  mfa_enrolment_required: 403,
  cross_site_request: 403,
  xsrf: 403,
  account_disabled: 403,
  registration_closed: 403,
  not_found: 404,
  conflict: 409,
  method_not_allowed: 405,
  request_timeout: 408,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  overloaded: 503,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds a client should wait before trying again (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}
