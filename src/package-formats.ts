// Tells Node that drizzle-orm's own relative imports are ES modules, so it
// does not work that out per file. For every module file Node looks up the
// package.json above it for its "type", and the answer carries the whole
// "exports" map as a new string: drizzle-orm's is ~175 KB, and gatehouse
// loads ~300 of its files, so a start made ~50 MB of garbage and took
// ~0.7 s longer, and the process stayed ~30 MB larger. drizzle-orm says
// "type": "module" and has no nested package.json, so the answer is the same.
// Imported first by the entry points (main.ts, cli.ts), before anything that
// loads drizzle-orm; every other import resolves as usual.
import * as nodeModule from "node:module";

const DRIZZLE = "/node_modules/drizzle-orm/";

// module.registerHooks is in Node ≥ 22.15; without it everything resolves as usual.
nodeModule.registerHooks?.({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (
      parent?.startsWith("file://") &&
      parent.includes(DRIZZLE) &&
      (specifier.startsWith("./") || specifier.startsWith("../")) &&
      specifier.endsWith(".js")
    ) {
      const url = new URL(specifier, parent);
      // Still inside the package: only there is the answer known.
      if (url.pathname.includes(DRIZZLE))
        return { url: url.href, format: "module", shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
