// What a browser sends back from navigator.credentials, checked for shape
// before any library sees it: a form posts it as JSON text in one field, an
// API client as an object. Anything else is a 400 naming what is wrong.
import { z } from "zod";
import { ServiceError } from "../errors.ts";

const b64url = z
  .string()
  .min(1)
  .max(8192)
  .regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url");

const credentialBase = {
  id: b64url.max(1366),
  rawId: b64url.max(1366),
  type: z.literal("public-key"),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional().catch(undefined),
};

const attestation = z.object({
  ...credentialBase,
  response: z.object({
    clientDataJSON: b64url,
    attestationObject: b64url,
    transports: z.array(z.string().max(32)).max(10).optional(),
    authenticatorData: b64url.optional(),
    publicKey: b64url.optional(),
    publicKeyAlgorithm: z.number().optional(),
  }),
});

const assertion = z.object({
  ...credentialBase,
  response: z.object({
    clientDataJSON: b64url,
    authenticatorData: b64url,
    signature: b64url,
    userHandle: b64url.max(128).optional().nullable(),
  }),
});

export type AttestationJson = z.output<typeof attestation>;
export type AssertionJson = z.output<typeof assertion>;

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  let data = value;
  if (typeof value === "string") {
    try {
      data = JSON.parse(value);
    } catch {
      throw new ServiceError("invalid_request", `The ${what} is not valid JSON.`);
    }
  }
  if (typeof data !== "object" || data === null)
    throw new ServiceError(
      "invalid_request",
      `Send the ${what} from navigator.credentials as "response".`,
    );
  const result = schema.safeParse(data);
  if (!result.success) {
    const [issue] = result.error.issues;
    const path = issue?.path.join(".") || "response";
    throw new ServiceError(
      "invalid_request",
      `The ${what} is malformed: ${path}: ${issue?.message ?? "invalid"}.`,
    );
  }
  return result.data;
}

export const parseAttestation = (value: unknown) =>
  parse(attestation, value, "passkey registration");
export const parseAssertion = (value: unknown) => parse(assertion, value, "passkey answer");

/** A passkey's name as its user gives it: 1 to 64 characters, no control characters. */
export function checkName(value: unknown): string {
  const name = typeof value === "string" ? value.normalize("NFC").trim() : "";
  if (name.length === 0 || name.length > 64 || /\p{Cc}/u.test(name))
    throw new ServiceError("invalid_request", "A passkey needs a name of 1 to 64 characters.");
  return name;
}
