// A raw TCP client for what fetch cannot do in a test: send a request head
// and a body as written (partial, trickled, with impossible sizes), and see
// the answer's framing headers and whether the server closes the connection.
import { connect } from "node:net";

export type RawAnswer = {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection after answering (within the wait). */
  closed: boolean;
  /** Milliseconds from connecting to the end of the answer's head. */
  answeredAfterMs: number;
};

/**
 * Writes `head` (and optionally body bytes, at once or one piece every
 * `trickleMs`) on a raw socket, reads one answer, then waits `closeWaitMs`
 * to see whether the server closes the connection.
 */
export function rawExchange(
  port: number,
  head: string,
  options: {
    body?: string;
    /** Written every `everyMs`, `times` times (default: until the answer). */
    trickle?: { piece: string; everyMs: number; times?: number };
    closeWaitMs?: number;
    timeoutMs?: number;
  } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    let answer: RawAnswer | undefined;
    let closed = false;
    let trickle: NodeJS.Timeout | undefined;
    const timeout = setTimeout(() => {
      finish(new Error(`no answer within ${options.timeoutMs ?? 5000} ms`));
    }, options.timeoutMs ?? 5000);
    const finish = (error?: Error) => {
      clearTimeout(timeout);
      clearInterval(trickle);
      socket.destroy();
      if (error) reject(error);
      else if (answer) resolve({ ...answer, closed });
    };
    socket.on("connect", () => {
      socket.write(head + (options.body ?? ""));
      if (options.trickle) {
        const { piece, everyMs, times = Number.POSITIVE_INFINITY } = options.trickle;
        let written = 0;
        trickle = setInterval(() => {
          if (written++ >= times) return clearInterval(trickle);
          if (!socket.destroyed && socket.writable) socket.write(piece);
        }, everyMs);
      }
    });
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (answer) return;
      const end = data.indexOf("\r\n\r\n");
      if (end === -1) return;
      const lines = data.subarray(0, end).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      answer = {
        status: Number(lines[0]?.split(" ")[1]),
        headers,
        body: "",
        closed: false,
        answeredAfterMs: performance.now() - started,
      };
      clearInterval(trickle);
      const length = Number(headers["content-length"] ?? 0);
      const waitForBody = () => {
        if (!answer) return;
        answer.body = data.subarray(end + 4, end + 4 + length).toString("utf8");
        setTimeout(() => finish(), options.closeWaitMs ?? 1000);
      };
      if (data.length >= end + 4 + length) waitForBody();
      else
        socket.on("data", function more() {
          if (data.length < end + 4 + length) return;
          socket.off("data", more);
          waitForBody();
        });
    });
    socket.on("close", () => {
      closed = true;
      if (!answer) finish(new Error("the server closed the connection without an answer"));
    });
    socket.on("error", (error) => {
      // A reset after the answer (the server closed while bytes were still coming) is fine.
      if (!answer) finish(error);
    });
  });
}
