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
// (no `%`, `;`, `\`), none empty (but a trailing slash) and none ending in a
// dot (so no `.` or `..` either).
const PLAIN_PATH = /^(?:\/[\w\-.~!$&'()*+,=:@]*[\w\-~!$&'()*+,=:@])*\/?$/;
// Double encoding of anything: backends that decode twice (or once before
// routing) would see segments the rules did not (`%252e`, `%2561dmin`).
const ENCODED_DOT_OR_DOUBLE = /%(?:2e|25[0-9a-f]{2})/i;
const ENCODED_SLASH = /%(?:2f|5c)/i;
const ENCODED_SLASHES = /%(2f|5c)/gi;
// What separates names inside a decoded segment for some backend: `;`
// parameters, and encoded separators a file server decodes.
const INNER_SEPARATORS = /;|%2F|%5C/;
const NON_ASCII = /[\u0080-\uffff]/;
const ASCII_FOLD = /^[a-z]\u0307?$/i;

const isDotSegment = (name: string) => name === "." || name === "..";

/** The query and fragment must already be removed. */
export function readPath(raw: string): PathReading {
  if (raw.charCodeAt(0) !== 47) return { error: "the original path must start with /" };
  if (PLAIN_PATH.test(raw) && !raw.includes(":$")) return { path: raw, encodedSlashes: false };
  return readUnusualPath(raw);
}

function readUnusualPath(raw: string): PathReading {
  if (raw.includes("\\")) return { error: "the original path contains a backslash" };
  if (ENCODED_DOT_OR_DOUBLE.test(raw))
    return { error: "the original path contains an encoded dot or a double-encoded character" };
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
    const problem = segmentProblem(decoded);
    if (problem) return { error: `the original path contains ${problem}` };
    // `;` parameters (`/admin;x=1/y`): servers that strip them route on what
    // is left, so the rules judge what is left.
    const semicolon = decoded.indexOf(";");
    const name = semicolon === -1 ? decoded : decoded.slice(0, semicolon);
    if (name === "" && i < last)
      return { error: "the original path contains an empty segment (//)" };
    segments.push(name);
  }
  return { path: `/${segments.join("/")}`, encodedSlashes };
}

/** Why a decoded segment could name something else to some backend, or null. */
function segmentProblem(decoded: string): string | null {
  if (hasControlCharacters(decoded)) return "control characters";
  // Every piece a backend might see: `..;`, `a;%2F..%2F`, `..%2F`.
  if (decoded.split(INNER_SEPARATORS).some(isDotSegment)) return "a dot segment (. or ..)";
  const name = decoded.split(";")[0] as string;
  // Windows drops a trailing dot or space (`/admin./`, `/admin%20/`) and
  // reads `name::$INDEX_ALLOCATION` as the directory itself.
  if (/[. ]$/.test(name)) return "a segment ending in a dot or a space";
  if (name.includes(":$")) return "an NTFS stream name (:$)";
  // Letters whose one-letter case mapping is ASCII (ſ → S, ı → I, İ → i, K → k):
  // servers that compare case-insensitively letter by letter read them so.
  if (NON_ASCII.test(name)) {
    for (const character of name) {
      if (character.charCodeAt(0) <= 0x7f) continue;
      if (ASCII_FOLD.test(character.toUpperCase()) || ASCII_FOLD.test(character.toLowerCase()))
        return "a character some servers read as an ASCII letter";
    }
  }
  return null;
}
