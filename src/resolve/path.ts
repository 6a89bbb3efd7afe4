// Reads the original request path the way the rules will judge it, and
// refuses every path whose raw form could mean something else to the
// application behind the proxy. Invariant: the rules never judge a path the
// application will not see. Browsers never send dot segments, backslashes or
// encoded separators, so refusing them costs real users nothing, while
// normalising them would judge `/admin/%2e%2e/public/x` as `/public/x` and let
// a backend that routes on the raw path serve `/admin`.
import { hasControlCharacters } from "../security/text.ts";

export type PathReading =
  | {
      /** Percent-decoded, `;` parameters removed; encoded `/` and `\` kept as `%2F` / `%5C`. */
      path: string;
      /** The raw path holds an encoded `/` or `\`: only rules that opt in accept it. */
      encodedSlashes: boolean;
    }
  | { error: string };

// The common case: plain segments of unreserved and sub-delimiter characters
// (no `%`, `;`, `\`), no empty segment but a trailing slash.
const PLAIN_PATH = /^(?:\/[\w\-.~!$&'()*+,=:@]+)*\/?$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
// An encoded dot, or a double-encoded dot or separator: backends that decode
// twice (or once before routing) would see segments the rules did not.
const ENCODED_DOT_OR_DOUBLE = /%(?:2e|25(?:2e|2f|5c))/i;
const ENCODED_SLASH = /%(?:2f|5c)/i;
const ENCODED_SLASHES = /%(2f|5c)/gi;
const ENCODED_SLASH_SPLIT = /%2F|%5C/;

const isDotSegment = (name: string) => name === "." || name === "..";

/** The query and fragment must already be removed. */
export function readPath(raw: string): PathReading {
  if (raw.charCodeAt(0) !== 47) return { error: "the original path must start with /" };
  if (PLAIN_PATH.test(raw) && !DOT_SEGMENT.test(raw)) return { path: raw, encodedSlashes: false };
  return readUnusualPath(raw);
}

function readUnusualPath(raw: string): PathReading {
  if (raw.includes("\\")) return { error: "the original path contains a backslash" };
  if (ENCODED_DOT_OR_DOUBLE.test(raw))
    return { error: "the original path contains an encoded dot or a double-encoded separator" };
  const rawSegments = raw.slice(1).split("/");
  const last = rawSegments.length - 1;
  const segments: string[] = [];
  let encodedSlashes = false;
  for (let i = 0; i <= last; i++) {
    const rawSegment = rawSegments[i] as string;
    let decoded = rawSegment;
    if (rawSegment.includes("%")) {
      if (ENCODED_SLASH.test(rawSegment)) encodedSlashes = true;
      try {
        // An encoded separator stays encoded: it is part of this segment's name.
        decoded = decodeURIComponent(
          rawSegment.replace(ENCODED_SLASHES, (_, hex: string) => `%25${hex.toUpperCase()}`),
        );
      } catch {
        return { error: "the original path has bad percent-encoding" };
      }
    }
    if (hasControlCharacters(decoded))
      return { error: "the original path contains control characters" };
    // `;` parameters (`/admin;x=1/y`, `/public/..;/admin`): servers that strip
    // them route on what is left, so the rules judge what is left.
    const semicolon = decoded.indexOf(";");
    const name = semicolon === -1 ? decoded : decoded.slice(0, semicolon);
    if (
      isDotSegment(name) ||
      (encodedSlashes && name.split(ENCODED_SLASH_SPLIT).some(isDotSegment))
    )
      return { error: "the original path contains a dot segment (. or ..)" };
    if (name === "" && i < last)
      return { error: "the original path contains an empty segment (//)" };
    segments.push(name);
  }
  return { path: `/${segments.join("/")}`, encodedSlashes };
}
