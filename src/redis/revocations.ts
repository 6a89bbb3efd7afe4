// The pub/sub channel on which replicas (and the CLI) tell each other what to
// forget at once: revoked sessions, revoked API keys, dropped provider tokens.

export const REVOKED_CHANNEL = "revoked";

export type RevokedMessage = {
  sessions?: string[];
  apiKeys?: string[];
  /** `userId:provider` keys of provider tokens that must not be passed upstream any more. */
  providerTokens?: string[];
};
