// Moved to signing-keys/assertions.ts; kept for http/resolve-handler.ts until
// its import names the new place (then this folder goes).
export type { AssertionSigner } from "../signing-keys/assertions.ts";
