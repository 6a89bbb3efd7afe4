// GET {prefix}/local-time.js: the script that shows the pages' times in the
// visitor's zone (pages/local-time-script.ts), cached for good under its
// current ?v=; and its exact URLs on every origin gatehouse serves pages on,
// for the CSP.
import { Hono } from "hono";
import type { Config } from "../../config.ts";
import {
  LOCAL_TIME_SCRIPT,
  LOCAL_TIME_SCRIPT_PATH,
  LOCAL_TIME_SCRIPT_VERSION,
} from "../pages/local-time-script.ts";
import type { AuthEnv } from "./kit.ts";
import { scriptFile } from "./script-file.ts";

export function localTimeRoutes() {
  const app = new Hono<AuthEnv>();
  app.get(LOCAL_TIME_SCRIPT_PATH, scriptFile(LOCAL_TIME_SCRIPT, LOCAL_TIME_SCRIPT_VERSION));
  return app;
}

/** The script's URLs for the CSP: this path, on every origin pages are served on. */
export function localTimeScriptSources(config: Config): string[] {
  const origins = new Set([config.public_url.origin, ...(config.webauthn?.origins ?? [])]);
  for (const site of config.sites.sites) origins.add(`${config.sites.protocol}//${site.domain}`);
  return [...origins].map((origin) => `${origin}${config.auth_prefix}${LOCAL_TIME_SCRIPT_PATH}`);
}
