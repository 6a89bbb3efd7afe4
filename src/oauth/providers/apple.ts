// Sign in with Apple: an OpenID Connect issuer whose client secret is a JWT
// signed with the team's private key, and whose answer is a cross-site POST
// (response_mode=form_post).
import * as arctic from "arctic";
import { z } from "zod";
import { defineProvider, envName, withoutPkce } from "../provider-family.ts";

function pemToPkcs8(pem: string): Uint8Array {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

export const apple = defineProvider({
  type: "apple",
  displayName: "Apple",
  settings: {
    team_id: z.string().min(1),
    key_id: z.string().min(1),
    /** The variable holding the PKCS#8 private key (PEM) that signs Apple's client secret. */
    private_key_env: envName,
  },
  scopes: ["name", "email"],
  needsSecret: false,
  formPost: true,
  client: (settings, { redirectUri }) =>
    withoutPkce(
      new arctic.Apple(
        settings.client_id,
        settings.team_id,
        settings.key_id,
        pemToPkcs8(settings.privateKey ?? ""),
        redirectUri,
      ),
    ),
  profile: { idToken: { issuer: () => "https://appleid.apple.com" } },
});
