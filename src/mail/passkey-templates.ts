// The notices sent when a passkey is added to or removed from an account:
// the owner learns of it at once, from the address they control, and can
// act if it was not them. Their sentences are in the catalogues' `mail` area.

/**
 * A built-in message's block: a paragraph (`mail.<kind>.<p>`, the named
 * values shown as links in HTML), a button to the value `button` labelled
 * `mail.<kind>.<label>`, or a value shown as its own paragraph when set.
 */
export type Block =
  | { p: string; links?: string[] }
  | { button: string; label: string }
  | { value: string };

export const PASSKEY_KINDS = ["passkey-added", "passkey-removed"] as const;

export const PASSKEY_MESSAGES: Record<(typeof PASSKEY_KINDS)[number], Block[]> = {
  "passkey-added": [{ p: "intro" }, { p: "notYou", links: ["accountLink"] }],
  "passkey-removed": [{ p: "intro" }, { p: "notYou", links: ["accountLink"] }],
};
