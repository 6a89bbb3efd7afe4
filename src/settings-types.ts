// The value types settings are written in: durations ("15m"), lists (a YAML
// list or a comma-separated string), booleans and bounded integers, each
// accepting both the YAML form and the environment's string form.
import { z } from "zod";

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "12h", "7d" → seconds. */
export function parseDurationSeconds(value: string): number | undefined {
  const match = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (DURATION_UNITS[match[2] || "s"] ?? 1);
}

export const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const seconds = typeof value === "number" ? value : parseDurationSeconds(value);
      if (seconds === undefined || !Number.isInteger(seconds) || seconds < 0) {
        ctx.addIssue({
          code: "custom",
          message: `"${value}" is not a duration like 30s, 15m, 12h, 7d`,
        });
        return z.NEVER;
      }
      return seconds;
    });

export const list = (fallback: string[] = []) =>
  z
    .union([z.string(), z.array(z.string())])
    .default(fallback)
    .transform((value) =>
      (Array.isArray(value) ? value : value.split(","))
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    );

export const bool = (fallback: boolean) =>
  z
    .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])])
    .default(fallback)
    .transform((value) => value === true || value === "true" || value === "1" || value === "yes");

export const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
