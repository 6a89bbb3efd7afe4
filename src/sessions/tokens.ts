// Moved to kernel/tokens.ts (email links and provider flows use them too); kept
// here for the modules that import them from sessions/.
export { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
