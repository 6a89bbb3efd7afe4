// Password work refused before the framework sees the request. When every
// hashing thread is busy and the queue is full, a login, registration or
// password reset would be refused with 503 anyway; answering it here, from
// the raw request and without reading its body, keeps a storm of them from
// costing the event loop (and so /_resolve) a Fetch Request, a body stream,
// an error object and a rendered page each.
import type { IncomingMessage, ServerResponse } from "node:http";

const BODY = JSON.stringify({
  error: {
    code: "overloaded",
    message: "Too many sign-ins at once. Try again in a moment.",
    requestId: null,
  },
});
const HEADERS = [
  "content-type",
  "application/json",
  "content-length",
  String(Buffer.byteLength(BODY)),
  "cache-control",
  "no-store",
  "retry-after",
  "1",
  // The body is not read: the connection is not reused after it.
  "connection",
  "close",
];

/** Returns a listener step: true when it answered the request itself. */
export function passwordLoadShedder(
  authPrefix: string,
  hasCapacity: () => boolean,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const paths = new Set(
    ["/login", "/register", "/reset-password", "/password"].map((path) => `${authPrefix}${path}`),
  );
  return (req, res) => {
    if (req.method !== "POST" || hasCapacity()) return false;
    const url = req.url ?? "";
    const query = url.indexOf("?");
    if (!paths.has(query === -1 ? url : url.slice(0, query))) return false;
    res.writeHead(503, HEADERS);
    res.end(BODY);
    return true;
  };
}
