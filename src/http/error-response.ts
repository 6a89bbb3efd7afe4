// One error shape for every JSON answer: { error: { code, message, requestId } }.
// What a store failure looks like is the composition root's knowledge (db/),
// handed in: the HTTP edge imports no store.
import { randomUUID } from "node:crypto";
import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ERROR_STATUS, type ErrorCode, ServiceError } from "../errors.ts";
import type { AppEnv } from "./context.ts";

/** The request id the proxy sent (as Hono's requestId middleware accepts it), else a new one. */
const REQUEST_ID = /^[\w\-=]{1,255}$/;
export function requestIdFor(given: string | undefined): string {
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

export function errorBody(code: ErrorCode, message: string, requestId: string | undefined) {
  return { error: { code, message, requestId: requestId ?? null } };
}

export function errorResponse(c: Context<AppEnv>, error: ServiceError): Response {
  if (error.retryAfter !== undefined) c.header("Retry-After", String(error.retryAfter));
  c.header("Cache-Control", "no-store");
  return c.json(
    errorBody(error.code, error.message, c.get("requestId")),
    ERROR_STATUS[error.code] as ContentfulStatusCode,
  );
}

const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

export type ErrorMapping = {
  log: (error: unknown, context: string) => void;
  /** True for an error that says a store cannot be reached: a 503 to try again, not a 500. */
  isStoreUnavailable: (error: unknown) => boolean;
};

/** Turns anything thrown into the one error shape; unknown errors are logged and become a 500 without details. */
export function toServiceError(
  error: unknown,
  mapping: ErrorMapping,
  context: string,
): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof HTTPException) {
    const code = HTTP_STATUS_CODES[error.status] ?? "invalid_request";
    return new ServiceError(code, error.message || code.replaceAll("_", " "));
  }
  mapping.log(error, context);
  if (mapping.isStoreUnavailable(error))
    return new ServiceError(
      "unavailable",
      "The account store is unavailable. Try again shortly.",
      1,
    );
  return new ServiceError("internal", "Something went wrong on our side.");
}

/** The app's error handler: everything thrown answers in the one JSON shape. */
export function jsonErrors(mapping: ErrorMapping): ErrorHandler<AppEnv> {
  return (error, c) =>
    errorResponse(c, toServiceError(error, mapping, `${c.req.method} ${c.req.path}`));
}
