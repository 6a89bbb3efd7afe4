// Part of `npm run build`: writes initdb's output for the installed PGlite to
// dist/db/pglite-<version>.tar.gz. A new embedded data directory starts from
// it (src/db/client.ts) instead of running initdb at first start, which costs
// PGlite a second PostgreSQL and a copy of its memory. Run by build.mjs with
// the same V8 flags as the server, in its own process.
import { readFileSync, writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";

const { version } = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.resolve("@electric-sql/pglite")), "utf8"),
);
const target = new URL(`../dist/db/pglite-${version}.tar.gz`, import.meta.url);
const database = new PGlite();
await database.waitReady;
const dump = await database.dumpDataDir("gzip");
await database.close();
writeFileSync(target, Buffer.from(await dump.arrayBuffer()));
