// Normalises the original request path once, the way a permissive backend
// would read it, so that access rules cannot be sidestepped with `..`, `//`,
// backslashes or percent-encoded separators.

/**
 * Returns the normalised path, or undefined when the path cannot be read
 * safely (bad percent-encoding, control characters, not starting with /).
 * The query and fragment must already be removed.
 */
import { hasControlCharacters } from "../security/text.ts";

export function normalizePath(rawPath: string): string | undefined {
  if (!rawPath.startsWith("/") && !rawPath.startsWith("\\")) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  if (hasControlCharacters(decoded)) return undefined;
  const segments: string[] = [];
  for (const segment of decoded.replaceAll("\\", "/").split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  const trailing = decoded.length > 1 && /[/\\]$/.test(decoded) && segments.length > 0 ? "/" : "";
  return `/${segments.join("/")}${trailing}`;
}
