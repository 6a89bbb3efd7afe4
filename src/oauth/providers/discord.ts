// Discord: OAuth 2.0 with PKCE; the profile from its API.
import * as arctic from "arctic";
import { fetchProviderJson, ProviderError } from "../provider-calls.ts";
import { defineProvider, text, withPkce } from "../provider-family.ts";

export const discord = defineProvider({
  type: "discord",
  displayName: "Discord",
  settings: {},
  scopes: ["identify", "email"],
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withPkce(new arctic.Discord(settings.client_id, settings.clientSecret, redirectUri)),
  profile: {
    async api(accessToken) {
      const user = (await fetchProviderJson(
        "https://discord.com/api/users/@me",
        accessToken,
      )) as Record<string, unknown>;
      const id = text(user.id);
      if (!id) throw new ProviderError("Discord sent no user id", "invalid");
      const avatar = text(user.avatar);
      return {
        subject: id,
        email: text(user.email)?.toLowerCase() ?? null,
        emailVerified: user.verified === true,
        name: text(user.global_name) ?? text(user.username),
        avatarUrl: avatar ? `https://cdn.discordapp.com/avatars/${id}/${avatar}.png` : null,
      };
    },
  },
});
