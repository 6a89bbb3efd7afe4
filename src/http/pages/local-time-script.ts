// The pages write times in UTC, naming the zone: the server cannot know the
// visitor's. This script, where scripts run, rewrites each such time in the
// browser's own zone and the page's language ("23 Nov 2026, 18:05 CET").
// Served as a file under a URL carrying its hash (the CSP allows that URL
// and nothing inline); without it the UTC text stays, which is still right.
import { createHash } from "node:crypto";

export const LOCAL_TIME_SCRIPT = `"use strict";
(() => {
  let format;
  try {
    format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    });
  } catch (_) {
    return;
  }
  for (const element of document.querySelectorAll("time[data-local]")) {
    const date = new Date(element.getAttribute("datetime") || "");
    if (!Number.isNaN(date.getTime())) element.textContent = format.format(date);
  }
})();
`;

export const LOCAL_TIME_SCRIPT_PATH = "/local-time.js";
export const LOCAL_TIME_SCRIPT_VERSION = createHash("sha256")
  .update(LOCAL_TIME_SCRIPT)
  .digest("base64url")
  .slice(0, 12);
