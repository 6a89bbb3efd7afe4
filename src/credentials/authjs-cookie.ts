// Finds an Auth.js (NextAuth) session cookie in a raw Cookie header: whole
// (`authjs.session-token`) or chunked (`authjs.session-token.0`, `.1`, ...),
// as Auth.js writes a token too large for one cookie. Invariant: the number
// of chunks and the token's length are bounded here, with string operations
// only, before anything is decrypted; a peer that joined and decrypted
// whatever arrived fell over on exactly that.
import type { Config } from "../config.ts";

export type AuthjsFormat = "v5" | "v4";
export type AuthjsCookie = { name: string; format: AuthjsFormat };

/** Auth.js writes chunks of 3,936 characters: three hold any real session. */
export const MAX_CHUNKS = 4;
export const MAX_TOKEN_LENGTH = 12 * 1024;

/**
 * The cookies asked for, in order of precedence: v5 before v4 (an app that
 * moved to v5 may leave a v4 cookie behind), and `__Secure-` before the
 * plain name (only an https page can set it).
 */
export function authjsCookies(
  config: Pick<Config, "authjs_cookie_name" | "authjs_token_format">,
): AuthjsCookie[] {
  const format = config.authjs_token_format;
  if (config.authjs_cookie_name)
    return [{ name: config.authjs_cookie_name, format: format === "v4" ? "v4" : "v5" }];
  const cookies: AuthjsCookie[] = [];
  if (format !== "v4")
    cookies.push(
      { name: "__Secure-authjs.session-token", format: "v5" },
      { name: "authjs.session-token", format: "v5" },
    );
  if (format !== "v5")
    cookies.push(
      { name: "__Secure-next-auth.session-token", format: "v4" },
      { name: "next-auth.session-token", format: "v4" },
    );
  return cookies;
}

export type CookieRead =
  | { kind: "absent" }
  /** Refused without decrypting anything. */
  | { kind: "refused"; message: string }
  | { kind: "token"; cookie: AuthjsCookie; token: string };

const ABSENT: CookieRead = { kind: "absent" };
const TOO_MANY: CookieRead = {
  kind: "refused",
  message: `the Auth.js session cookie has more than ${MAX_CHUNKS} chunks`,
};
const TOO_LONG: CookieRead = {
  kind: "refused",
  message: `the Auth.js session cookie is longer than ${MAX_TOKEN_LENGTH} characters`,
};
const MIXED: CookieRead = {
  kind: "refused",
  message: "the Auth.js session cookie is both whole and chunked",
};
const GAP: CookieRead = {
  kind: "refused",
  message: "the Auth.js session cookie is missing a chunk",
};

type Found = { whole?: string; chunks: (string | undefined)[]; chunkCookies: number };

/**
 * The first configured cookie present, joined from its chunks. As Auth.js's
 * own parser does, the first value of a repeated name is the one read and an
 * empty value is no cookie.
 */
export function readAuthjsCookie(header: string, cookies: readonly AuthjsCookie[]): CookieRead {
  let found: (Found | undefined)[] | undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    const eq = header.indexOf("=", start);
    if (eq !== -1 && eq < end) {
      const name = header.slice(start, eq).trim();
      for (let i = 0; i < cookies.length; i++) {
        const base = (cookies[i] as AuthjsCookie).name;
        if (!name.startsWith(base)) continue;
        let index = -1;
        if (name.length !== base.length) {
          const suffix = name.slice(base.length + 1);
          if (name[base.length] !== "." || !/^\d{1,6}$/.test(suffix)) continue;
          index = Number(suffix);
        }
        const value = header.slice(eq + 1, end).trim();
        if (value === "") break;
        found ??= [];
        let entry = found[i];
        if (!entry) {
          entry = { chunks: [], chunkCookies: 0 };
          found[i] = entry;
        }
        if (index === -1) entry.whole ??= value;
        else {
          // Counted before anything is kept: a thousand chunks cost a scan, nothing more.
          entry.chunkCookies += 1;
          if (index >= MAX_CHUNKS || entry.chunkCookies > MAX_CHUNKS * 2) return TOO_MANY;
          entry.chunks[index] ??= value;
        }
        break;
      }
    }
    start = end + 1;
  }
  if (!found) return ABSENT;
  for (let i = 0; i < cookies.length; i++) {
    const entry = found[i];
    if (!entry) continue;
    const cookie = cookies[i] as AuthjsCookie;
    if (entry.chunks.length === 0) {
      const token = entry.whole as string;
      return token.length > MAX_TOKEN_LENGTH ? TOO_LONG : { kind: "token", cookie, token };
    }
    if (entry.whole !== undefined) return MIXED;
    let length = 0;
    for (let c = 0; c < entry.chunks.length; c++) {
      const chunk = entry.chunks[c];
      if (chunk === undefined) return GAP;
      length += chunk.length;
    }
    if (length > MAX_TOKEN_LENGTH) return TOO_LONG;
    return { kind: "token", cookie, token: entry.chunks.join("") };
  }
  return ABSENT;
}
