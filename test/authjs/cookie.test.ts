// Finding the Auth.js cookie in a Cookie header, as a table of hostile and
// ordinary headers: whole and chunked cookies, the bounds checked before any
// decryption, precedence between the default names, and what Auth.js's own
// parser does with repeats and empty values.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  authjsCookies,
  type CookieRead,
  MAX_CHUNKS,
  MAX_TOKEN_LENGTH,
  readAuthjsCookie,
} from "../../src/credentials/authjs-cookie.ts";

const defaults = authjsCookies({ authjs_cookie_name: undefined, authjs_token_format: "auto" });
const read = (header: string) => readAuthjsCookie(header, defaults);
const token = (result: CookieRead) =>
  result.kind === "token"
    ? `${result.cookie.name}:${result.cookie.format}:${result.token}`
    : result.kind;

test("the default names: v5 before v4, __Secure- before the plain name", () => {
  assert.deepEqual(
    defaults.map((cookie) => `${cookie.name}:${cookie.format}`),
    [
      "__Secure-authjs.session-token:v5",
      "authjs.session-token:v5",
      "__Secure-next-auth.session-token:v4",
      "next-auth.session-token:v4",
    ],
  );
  assert.deepEqual(authjsCookies({ authjs_cookie_name: "app.sid", authjs_token_format: "v4" }), [
    { name: "app.sid", format: "v4" },
  ]);
  assert.deepEqual(
    authjsCookies({ authjs_cookie_name: undefined, authjs_token_format: "v4" }).map((c) => c.name),
    ["__Secure-next-auth.session-token", "next-auth.session-token"],
  );
});

const rows: [what: string, header: string, expected: string][] = [
  ["no cookie of ours", "theme=dark; gatehouse_session=abc", "absent"],
  ["a whole v5 cookie", "authjs.session-token=AAA", "authjs.session-token:v5:AAA"],
  ["a whole v4 cookie", "next-auth.session-token=BBB", "next-auth.session-token:v4:BBB"],
  ["spaces around", "  authjs.session-token = AAA ;x=1", "authjs.session-token:v5:AAA"],
  [
    "chunks in order",
    "authjs.session-token.0=AA; authjs.session-token.1=BB",
    "authjs.session-token:v5:AABB",
  ],
  [
    "chunks out of order",
    "authjs.session-token.1=BB; authjs.session-token.0=AA",
    "authjs.session-token:v5:AABB",
  ],
  [
    "__Secure- wins over the plain name",
    "authjs.session-token=P; __Secure-authjs.session-token=S",
    "__Secure-authjs.session-token:v5:S",
  ],
  [
    "v5 wins over v4",
    "next-auth.session-token=V4; authjs.session-token=V5",
    "authjs.session-token:v5:V5",
  ],
  [
    "a repeated name: the first value, as Auth.js reads it",
    "authjs.session-token=ONE; authjs.session-token=TWO",
    "authjs.session-token:v5:ONE",
  ],
  [
    "an empty value is no cookie",
    "authjs.session-token=; next-auth.session-token=V4",
    "next-auth.session-token:v4:V4",
  ],
  [
    "a name that only starts like ours",
    "authjs.session-tokens=X; authjs.session-token.x=Y",
    "absent",
  ],
  ["a lookalike prefix", "xauthjs.session-token=X; __Host-authjs.session-token=Y", "absent"],
  ["no = at all", "authjs.session-token", "absent"],
  ["a missing chunk", "authjs.session-token.0=AA; authjs.session-token.2=CC", "refused"],
  ["chunks without the first", "authjs.session-token.1=BB", "refused"],
  ["whole and chunked at once", "authjs.session-token=W; authjs.session-token.0=AA", "refused"],
  [`chunk index ${MAX_CHUNKS}`, `authjs.session-token.${MAX_CHUNKS}=X`, "refused"],
  ["a huge chunk index", "authjs.session-token.999999=X", "refused"],
  [
    "too many chunk cookies, even repeated",
    Array.from({ length: MAX_CHUNKS * 2 + 1 }, () => "authjs.session-token.0=A").join("; "),
    "refused",
  ],
  [
    "a whole cookie over the bound",
    `authjs.session-token=${"A".repeat(MAX_TOKEN_LENGTH + 1)}`,
    "refused",
  ],
  [
    "chunks over the bound together",
    Array.from(
      { length: MAX_CHUNKS },
      (_, i) => `authjs.session-token.${i}=${"A".repeat(MAX_TOKEN_LENGTH / MAX_CHUNKS + 1)}`,
    ).join("; "),
    "refused",
  ],
  [
    "a lower-precedence cookie with too many chunks refuses the request",
    `authjs.session-token=GOOD; ${Array.from({ length: 9 }, (_, i) => `next-auth.session-token.${i}=X`).join("; ")}`,
    "refused",
  ],
];

for (const [what, header, expected] of rows)
  test(`cookie: ${what}`, () => {
    assert.equal(token(read(header)), expected);
  });

test("a bound-sized cookie is still read", () => {
  const value = "A".repeat(MAX_TOKEN_LENGTH);
  assert.equal(token(read(`authjs.session-token=${value}`)), `authjs.session-token:v5:${value}`);
});

test("ten thousand junk chunk cookies are refused, not collected", () => {
  const header = Array.from({ length: 10_000 }, (_, i) => `authjs.session-token.${i}=x`).join(";");
  assert.equal(read(header).kind, "refused");
});
