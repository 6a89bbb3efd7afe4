// `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json) and
// copies the files that are not TypeScript (the password blocklist, the
// hashing worker) beside their modules, so dist/ is what src/ is, as
// JavaScript; then makes the embedded database's template
// (scripts/pglite-template.mjs). `--if-needed` (npm start, the CLI) skips the build when dist/ is
// newer than every source file. Plain JavaScript: it runs before anything is
// compiled, on any supported Node.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const src = join(root, "src");
const dist = join(root, "dist");
const stamp = join(dist, ".build-stamp");
// A new package-lock.json may bring another PGlite, whose template must be made again.
const inputs = ["src", "tsconfig.json", "tsconfig.build.json", "package-lock.json"].map((path) =>
  join(root, path),
);

function files(path) {
  return statSync(path).isDirectory()
    ? readdirSync(path).flatMap((name) => files(join(path, name)))
    : [path];
}

function upToDate() {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return inputs.flatMap(files).every((file) => statSync(file).mtimeMs <= built);
}

if (process.argv.includes("--if-needed") && upToDate()) process.exit(0);

const started = Date.now();
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});
if (result.status !== 0) {
  console.error("build failed: tsc did not compile src/");
  process.exit(result.status ?? 1);
}
for (const file of files(src).filter((file) => !file.endsWith(".ts"))) {
  const target = join(dist, relative(src, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
const template = spawnSync(
  process.execPath,
  ["--no-wasm-tier-up", "--no-wasm-dynamic-tiering", join(root, "scripts", "pglite-template.mjs")],
  { stdio: "inherit" },
);
if (template.status !== 0) {
  console.error("build failed: no template for the embedded database");
  process.exit(template.status ?? 1);
}
writeFileSync(stamp, `${new Date().toISOString()}\n`);
console.error(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
