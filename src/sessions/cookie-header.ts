// Reads a cookie's values from a raw Cookie header without a cookie library:
// the hot path needs only one name, and only its first few values.

/** Every value of a cookie in the Cookie header (browsers may send duplicates across paths and domains). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    // Only a value that starts with a quote can be a quoted one.
    values.push(value.charCodeAt(0) === 34 ? value.replace(/^"(.*)"$/, "$1") : value);
    if (values.length >= 4) break;
  }
  return values;
}
