// A storm of wrong-password logins at a fixed rate, in its own process so the
// client probing /_resolve is not slowed by generating it:
//   node bench/login-storm.mjs URL RATE SECONDS
// Sends RATE requests a second whatever the answers take (up to 256 open
// connections) and prints {"sent", "answered", "perSecond", "statuses"} when done.
import { Agent, request } from "node:http";

const [url, rate, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const body = JSON.stringify({ email: "nobody@example.test", password: "wrong password 123" });
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const statuses = {};
let answered = 0;
const started = performance.now();
const pending = [];
for (let i = 0; i < rate * seconds; i++) {
  const wait = started + (i * 1000) / rate - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  pending.push(
    new Promise((resolve) => {
      const req = request(
        url,
        {
          agent,
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            answered++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end(body);
    }),
  );
}
await Promise.all(pending);
const elapsed = (performance.now() - started) / 1000;
agent.destroy();
console.log(
  JSON.stringify({ sent: rate * seconds, answered, perSecond: answered / elapsed, statuses }),
);
