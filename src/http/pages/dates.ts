// Dates and times on the pages, in the page's language: a <time> element
// whose datetime attribute is exact, and whose text Intl.DateTimeFormat writes
// for the locale. Times are written in UTC with the zone named: the server
// cannot know the visitor's zone, and "14:05 UTC" is never wrong, where a
// guessed zone would be. Where scripts run, local-time-script.ts rewrites
// each (data-local) in the browser's zone.
import { html } from "hono/html";
import type { Content, PageContext } from "./layout.ts";

const formats = new Map<string, Intl.DateTimeFormat>();

function format(locale: string, withTime: boolean): Intl.DateTimeFormat {
  const key = `${locale}\u0000${withTime}`;
  let found = formats.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(
      locale,
      withTime
        ? {
            year: "numeric",
            month: "short",
            day: "numeric",
            hour: "2-digit",
            minute: "2-digit",
            timeZone: "UTC",
            timeZoneName: "short",
          }
        : { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" },
    );
    formats.set(key, found);
  }
  return found;
}

function asDate(value: string | Date): Date | undefined {
  const date = typeof value === "string" ? new Date(value) : value;
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A moment, date and time: "23 Nov 2026, 17:05 UTC" in the page's language. */
export function dateTime(ctx: PageContext, value: string | Date): Content | string {
  const date = asDate(value);
  if (!date) return "";
  return html`<time datetime="${date.toISOString()}" data-local>${format(ctx.locale, true).format(date)}</time>`;
}

/** A day: "23 Nov 2026" in the page's language (the UTC day). */
export function day(ctx: PageContext, value: string | Date): Content | string {
  const date = asDate(value);
  if (!date) return "";
  return html`<time datetime="${date.toISOString().slice(0, 10)}">${format(ctx.locale, false).format(date)}</time>`;
}

/** A day as plain text, for a message's placeholder. */
export function dayText(ctx: PageContext, value: string | Date): string {
  const date = asDate(value);
  return date ? format(ctx.locale, false).format(date) : "";
}
