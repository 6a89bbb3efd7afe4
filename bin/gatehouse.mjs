#!/usr/bin/env -S node --max-semi-space-size=8
// The `gatehouse` command, on the compiled JavaScript in dist/ (`npm run build`):
//   gatehouse [start]          serve (the same as `npm start`)
//   gatehouse check-config     validate the configuration and exit
//   gatehouse <cli command>    the operator CLI: keys, api-keys, users (see --help)
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dist = join(import.meta.dirname, "..", "dist");
if (!existsSync(join(dist, "main.js"))) {
  console.error(
    `gatehouse is not built: run "npm run build" in ${join(import.meta.dirname, "..")}`,
  );
  process.exit(2);
}
const [command, ...rest] = process.argv.slice(2);
// main.js and cli.js read their arguments from process.argv, as when run directly.
const run = (file, args) => {
  process.argv = [process.argv[0], join(dist, file), ...args];
  return import(pathToFileURL(join(dist, file)).href);
};
if (command === undefined || command === "start") await run("main.js", rest);
else if (command === "check-config" || command === "--check-config")
  await run("main.js", ["--check-config", ...rest]);
else await run("cli.js", [command, ...rest]);
