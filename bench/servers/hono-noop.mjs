// The baseline: a Hono handler on @hono/node-server that answers 200 and
// nothing else, in its own process like gatehouse. Also the no-op resolver
// behind nginx. Plain JavaScript, so it runs without a loader.
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.all("*", (c) => c.body(null, 200));
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: "127.0.0.1" });
