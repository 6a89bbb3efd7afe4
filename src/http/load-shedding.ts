// Password work refused before the framework sees the request. When every
// hashing thread is busy and the queue is full, a login, registration or
// password reset would be refused with 503 anyway; answering it here, from
// the raw request and without reading its body, keeps a storm of them from
// costing the event loop (and so /_resolve) a Fetch Request, a body stream,
// an error object and a rendered page each.
import type { IncomingMessage, ServerResponse } from "node:http";
import { requestIdFor } from "./error-response.ts";

const MESSAGE = "Too many sign-ins at once. Try again in a moment.";

function refusal(requestId: string): [string, string[]] {
  const body = JSON.stringify({ error: { code: "overloaded", message: MESSAGE, requestId } });
  return [
    body,
    [
      "content-type",
      "application/json",
      "content-length",
      String(Buffer.byteLength(body)),
      "cache-control",
      "no-store",
      "retry-after",
      "1",
      "x-request-id",
      requestId,
      // The body is not read: the connection is not reused after it.
      "connection",
      "close",
    ],
  ];
}

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
    const header = req.headers["x-request-id"];
    const [body, headers] = refusal(requestIdFor(typeof header === "string" ? header : undefined));
    res.writeHead(503, headers);
    res.end(body);
    return true;
  };
}
