// A storm of password work is refused before the framework sees it: while
// every hashing thread is busy, a login is answered 503 from its request
// line and headers alone, without waiting for (or reading) its body.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import {
  GOOD_PASSWORD,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

let database: DatabaseHandle;
let server: RunningGatehouse;

before(async () => {
  database = await openDatabase({ kind: "pglite" });
  server = await startGatehouse(database, {
    PASSWORD_HASH_CONCURRENCY: "1",
    PASSWORD_HASH_QUEUE: "0",
    LOGIN_MAX_FAILURES_PER_IP: "1000",
  });
});
after(async () => {
  await server?.stop();
  await database?.close();
});

/** Sends a login's head, promising a body it never sends; resolves with the raw answer, or "" after the wait. */
function loginWithoutBody(waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(server.port, "127.0.0.1");
    let answer = "";
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, waitMs);
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n\r\n") && answer.includes("}")) {
        clearTimeout(timer);
        done();
      }
    });
    socket.on("error", done);
    socket.write(
      "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
    );
  });
}

test("while every hashing thread is busy, a login is refused before its body is read", async () => {
  let storming = true;
  // Registrations keep the one hashing thread busy.
  const storm = (async () => {
    while (storming)
      await Promise.all(
        Array.from({ length: 4 }, () =>
          fetch(`${server.url}/auth/register`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email: uniqueEmail("storm"), password: GOOD_PASSWORD }),
          }).then((r) => r.arrayBuffer()),
        ),
      );
  })();
  let shed = "";
  try {
    for (let attempt = 0; attempt < 40 && !shed; attempt++) {
      const answer = await loginWithoutBody(300);
      if (answer.startsWith("HTTP/1.1 503")) shed = answer;
    }
  } finally {
    storming = false;
    await storm;
  }
  assert.ok(shed, "a login sent while the hasher was full was answered without its body");
  assert.match(shed, /\r\nretry-after: 1\r\n/i);
  assert.match(shed, /\r\nconnection: close\r\n/i);
  assert.match(shed, /"code":"overloaded"/);
  assert.match(shed, /\r\nx-request-id: [0-9a-f-]{36}\r\n[\s\S]*"requestId":"[0-9a-f-]{36}"/i);
});
