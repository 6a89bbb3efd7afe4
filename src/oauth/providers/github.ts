// GitHub: plain OAuth 2.0 (no PKCE); the profile from its API, the address
// being the primary verified one from the emails API.
import * as arctic from "arctic";
import { fetchProviderJson, ProviderError } from "../provider-calls.ts";
import { defineProvider, text, withoutPkce } from "../provider-family.ts";

type GitHubEmail = { email: string; primary: boolean; verified: boolean };

export const github = defineProvider({
  type: "github",
  displayName: "GitHub",
  settings: {},
  scopes: ["read:user", "user:email"],
  needsSecret: true,
  client: (settings, { redirectUri }) =>
    withoutPkce(new arctic.GitHub(settings.client_id, settings.clientSecret ?? "", redirectUri)),
  profile: {
    async api(accessToken) {
      const user = (await fetchProviderJson("https://api.github.com/user", accessToken)) as Record<
        string,
        unknown
      >;
      const emails = (await fetchProviderJson(
        "https://api.github.com/user/emails",
        accessToken,
      )) as GitHubEmail[];
      const list = Array.isArray(emails) ? emails : [];
      // The primary address when verified; else any verified one; an unverified one never counts as verified.
      const chosen =
        list.find((e) => e.primary && e.verified) ??
        list.find((e) => e.verified) ??
        list.find((e) => e.primary);
      if (typeof user.id !== "number" && typeof user.id !== "string")
        throw new ProviderError("GitHub sent no user id", "invalid");
      return {
        subject: String(user.id),
        email: chosen?.email.toLowerCase() ?? null,
        emailVerified: chosen?.verified === true,
        name: text(user.name) ?? text(user.login),
        avatarUrl: text(user.avatar_url),
      };
    },
  },
});
