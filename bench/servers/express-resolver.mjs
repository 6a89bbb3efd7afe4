// The peer: the forward-auth resolver people wrote with the seed-era stack,
// Express + express-session + connect-redis (node-redis), with the defaults
// its documentation shows (no resave, no uninitialised sessions, the TTL
// touched on every request). A session holds the user; /_resolve answers 200
// with identity headers or 401. The bench writes the sessions into Redis as
// express-session would (bench/seed.ts).
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { createClient } from "redis";

const client = createClient({ url: process.env.REDIS_URL });
await client.connect();

const app = express();
app.disable("x-powered-by");
app.use(
  session({
    store: new RedisStore({ client, prefix: "sess:" }),
    secret: process.env.SESSION_SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: "lax" },
  }),
);
app.all("/_resolve", (request, response) => {
  const user = request.session.user;
  if (!user) {
    response.status(401).json({ error: "unauthenticated" });
    return;
  }
  response
    .set({
      "x-auth-user-id": user.id,
      "x-auth-email": user.email,
      "x-auth-roles": user.roles.join(","),
      "cache-control": "no-store",
    })
    .status(200)
    .end();
});
app.listen(Number(process.env.PORT), "127.0.0.1");
