// `Authorization: Bearer gatehouse_...`: a personal API key.
import { API_KEY_PREFIX } from "../api-keys/format.ts";
import type { ApiKeyService } from "../api-keys/service.ts";
import { type CredentialStrategy, NOT_MINE } from "./strategy.ts";

export function apiKeyStrategy(apiKeys: Pick<ApiKeyService, "resolve">): CredentialStrategy {
  return {
    name: "api-key",
    read({ bearer }) {
      if (bearer === undefined || !bearer.startsWith(API_KEY_PREFIX)) return NOT_MINE;
      return apiKeys
        .resolve(bearer)
        .then((identity) =>
          identity
            ? { kind: "identity", identity }
            : { kind: "invalid", message: "the API key is not valid" },
        );
    },
  };
}
