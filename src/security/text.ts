// Control characters (C0 and DEL) are refused in identifiers and stripped from display text.
const CONTROL = "\\u0000-\\u001f\\u007f";
const HAS_CONTROL = new RegExp(`[${CONTROL}]`);
const ALL_CONTROL = new RegExp(`[${CONTROL}]`, "g");

export function hasControlCharacters(text: string): boolean {
  return HAS_CONTROL.test(text);
}

export function stripControlCharacters(text: string): string {
  return text.replace(ALL_CONTROL, "");
}
