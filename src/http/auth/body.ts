// Request bodies at the edge, and the one way a failure is answered. A body
// is JSON (an object) or a urlencoded form, anything else a 4xx; its fields
// are validated by a zod schema built from the services' own rules, so a
// handler receives typed values. A failed form post from a hosted page gets
// its page back with the message and the error's status; everything else
// gets the JSON error shape.
import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode, ServiceError } from "../../errors.ts";
import { type ErrorMapping, jsonErrors } from "../error-response.ts";
import { type AuthEnv, type ErrorPage, wantsJson } from "./kit.ts";

/** Reads a JSON or form body as a flat record, and whether to answer with pages. */
async function readInput(
  c: Context<AuthEnv>,
): Promise<{ form: boolean; fields: Record<string, unknown> }> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "application/json") {
    // Read outside the try: a body that is too large or too slow is not "invalid JSON".
    const text = await c.req.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new ServiceError("invalid_request", "The body is not valid JSON.");
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new ServiceError("invalid_request", "The body must be a JSON object.");
    }
    return { form: false, fields: data as Record<string, unknown> };
  }
  if (type === "application/x-www-form-urlencoded") {
    const params = new URLSearchParams(await c.req.text());
    const fields: Record<string, unknown> = {};
    for (const key of new Set(params.keys())) {
      const values = params.getAll(key);
      fields[key] = values.length === 1 ? values[0] : values;
    }
    // A form post answers with pages, unless the client asked for JSON only.
    const accept = c.req.header("accept") ?? "";
    return { form: !accept.includes("application/json") || accept.includes("text/html"), fields };
  }
  throw new ServiceError(
    "unsupported_media_type",
    "Send application/json or application/x-www-form-urlencoded.",
  );
}

/** Reads the body into `fields` (and `form`); a body that cannot be read is a JSON 4xx. */
export const readBody: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const { form, fields } = await readInput(c);
  c.set("fields", fields);
  c.set("form", form);
  await next();
};

/** A bodiless post from a hosted page's button answers with pages; DELETE and JSON clients do not. */
export const buttonPost: MiddlewareHandler<AuthEnv> = async (c, next) => {
  c.set("form", c.req.method !== "DELETE" && !wantsJson(c));
  await next();
};

/**
 * Validates the fields read by readBody; the handler reads them typed from
 * `body`. Every field of the schema is passed, undefined when absent: zod
 * skips a transform on an absent key, and the rules decide what a missing
 * field means (as they do for null or a number).
 */
export function validate<S extends z.ZodObject | z.ZodPipe<z.ZodObject, z.ZodType>>(
  schema: S,
): MiddlewareHandler<AuthEnv & { Variables: { body: z.output<S> } }> {
  const shape = schema instanceof z.ZodPipe ? schema.in.shape : schema.shape;
  const absent = Object.fromEntries(Object.keys(shape).map((key) => [key, undefined]));
  return async (c, next) => {
    const result = schema.safeParse({ ...absent, ...c.get("fields") });
    if (!result.success) {
      const [issue] = result.error.issues;
      const code = (issue?.code === "custom" && issue.params?.code) || "invalid_request";
      const error = new ServiceError(code as ErrorCode, issue?.message ?? "The body is not valid.");
      if (typeof issue?.path[0] === "string") error.field = issue.path[0];
      throw error;
    }
    c.set("body", result.data as z.output<S>);
    await next();
  };
}

/** A field checked by a service's rule, which throws the ServiceError a person reads. */
export function field<T>(rule: (value: unknown) => T) {
  return z.unknown().transform((value, ctx): T => {
    try {
      return rule(value);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message, params: { code: error.code } });
      return z.NEVER;
    }
  });
}

/** A field that is text when it is text, else undefined (the service decides what that means). */
export const optionalText = z
  .unknown()
  .transform((value) => (typeof value === "string" ? value : undefined));

/** A checkbox or boolean: checked when true, "true" or "on". */
export const checkbox = z
  .unknown()
  .transform((value) => value === true || value === "true" || value === "on");

/** How this route answers a failed form post (only when the request is one, see `form`). */
export function errorPage(render: ErrorPage): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    c.set("errorPage", render);
    await next();
  };
}

/**
 * The /auth app's error handler: a failed form post gets its page, with the
 * message in the page's language (`describe`); anything else JSON, in English.
 */
export function formOrJsonErrors(
  mapping: ErrorMapping & { describe: (c: Context<AuthEnv>, error: ServiceError) => string },
) {
  const json = jsonErrors(mapping);
  return async (error: Error, c: Context<AuthEnv>): Promise<Response> => {
    const render = c.get("errorPage");
    if (!(error instanceof ServiceError) || !render || !c.get("form")) return json(error, c);
    if (error.retryAfter !== undefined) c.header("Retry-After", String(error.retryAfter));
    c.status(ERROR_STATUS[error.code]);
    const shown = new ServiceError(error.code, mapping.describe(c, error), error.retryAfter);
    shown.field = error.field;
    return c.html(await render(c, shown));
  };
}
