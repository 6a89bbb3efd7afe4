// A WebAuthn authenticator in software (ES256, "none" attestation), for
// HTTP tests that must write exactly the answer a browser would, or one a
// browser never would: another origin, another challenge, a counter that
// goes backwards, another account's user handle.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor> | Cbor[];

function head(major: number, value: number): Buffer {
  if (value < 24) return Buffer.from([(major << 5) | value]);
  if (value < 256) return Buffer.from([(major << 5) | 24, value]);
  if (value < 65536) {
    const out = Buffer.alloc(3);
    out[0] = (major << 5) | 25;
    out.writeUInt16BE(value, 1);
    return out;
  }
  const out = Buffer.alloc(5);
  out[0] = (major << 5) | 26;
  out.writeUInt32BE(value, 1);
  return out;
}

/** Just enough CBOR for attestation objects and COSE keys. */
export function cbor(value: Cbor): Buffer {
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const parts = [head(5, value.size)];
  for (const [key, item] of value) parts.push(cbor(key), cbor(item));
  return Buffer.concat(parts);
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64url");
const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest();

export type SoftPasskey = {
  credentialId: Buffer;
  privateKey: KeyObject;
  counter: number;
  userHandle?: string;
};

const FLAGS = { up: 0x01, uv: 0x04, at: 0x40 };

export function createSoftAuthenticator(rpId: string, origin: string) {
  function authData(counter: number, flags: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, attested ?? Buffer.alloc(0)]);
  }

  return {
    /** A new passkey and the browser's answer to the registration options. */
    register(
      options: { challenge: string; user: { id: string } },
      overrides: { origin?: string; challenge?: string; type?: string; credentialId?: Buffer } = {},
    ) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = publicKey.export({ format: "jwk" });
      const coseKey = cbor(
        new Map<Cbor, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(jwk.x as string, "base64url")],
          [-3, Buffer.from(jwk.y as string, "base64url")],
        ]),
      );
      const credentialId = overrides.credentialId ?? randomBytes(32);
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(credentialId.length);
      const attested = Buffer.concat([Buffer.alloc(16), idLength, credentialId, coseKey]);
      const attestationObject = cbor(
        new Map<Cbor, Cbor>([
          ["fmt", "none"],
          ["attStmt", new Map()],
          ["authData", authData(0, FLAGS.up | FLAGS.uv | FLAGS.at, attested)],
        ]),
      );
      const clientData = JSON.stringify({
        type: overrides.type ?? "webauthn.create",
        challenge: overrides.challenge ?? options.challenge,
        origin: overrides.origin ?? origin,
        crossOrigin: false,
      });
      const passkey: SoftPasskey = {
        credentialId,
        privateKey,
        counter: 0,
        userHandle: options.user.id,
      };
      return {
        passkey,
        response: {
          id: b64url(credentialId),
          rawId: b64url(credentialId),
          type: "public-key" as const,
          clientExtensionResults: {},
          response: {
            clientDataJSON: b64url(clientData),
            attestationObject: b64url(attestationObject),
            transports: ["internal"],
          },
        },
      };
    },

    /** The browser's answer to authentication options, signed by `passkey`. */
    assert(
      passkey: SoftPasskey,
      challenge: string,
      overrides: { origin?: string; counter?: number; userHandle?: string | null } = {},
    ) {
      const counter = overrides.counter ?? passkey.counter + 1;
      passkey.counter = counter;
      const data = authData(counter, FLAGS.up | FLAGS.uv);
      const clientData = JSON.stringify({
        type: "webauthn.get",
        challenge,
        origin: overrides.origin ?? origin,
        crossOrigin: false,
      });
      const signature = sign(
        "sha256",
        Buffer.concat([data, sha256(clientData)]),
        passkey.privateKey,
      );
      const userHandle =
        overrides.userHandle === null ? undefined : (overrides.userHandle ?? passkey.userHandle);
      return {
        id: b64url(passkey.credentialId),
        rawId: b64url(passkey.credentialId),
        type: "public-key" as const,
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientData),
          authenticatorData: b64url(data),
          signature: b64url(signature),
          ...(userHandle ? { userHandle } : {}),
        },
      };
    },
  };
}
