// Turns the validator's findings about the configuration into sentences an
// operator can act on: the setting named with its path as written
// (`RULES[0].access`), what was expected, what was given, and the closest
// valid key or value to a misspelling.
import type { z } from "zod";

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];
type Def = { type: string } & Record<string, unknown>;

/** `RULES[0].access`: the top-level setting as its environment variable, then the path inside it. */
export function settingPath(path: Path): string {
  const [top, ...rest] = path;
  let name = String(top ?? "").toUpperCase();
  for (const segment of rest)
    name += typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`;
  return name;
}

export function describeIssue(
  issue: Issue,
  raw: Record<string, unknown>,
  schema: z.ZodType,
): string[] {
  const where = (path: Path) => settingPath(path) || "configuration";
  // A message the schema wrote itself says more than anything made up here.
  if (!issue.message.startsWith("Invalid ") && issue.code !== "unrecognized_keys") {
    const given = valueAt(raw, issue.path);
    const got = issue.code === "custom" || given === undefined ? "" : ` (got ${show(given)})`;
    return [`${where(issue.path)}: ${issue.message}${got}`];
  }
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const known = keysAt(schema, issue.path);
        const hint = closest(key, known);
        // Only the configuration file can hold an unknown top-level key: name it as written there.
        const path =
          issue.path.length > 0 ? settingPath([...issue.path, key]) : `${key} (GATEHOUSE_CONFIG)`;
        return `${path}: not a setting${issue.path.length > 0 ? " here" : ""}${hint ? `; did you mean "${hint}"?` : known.length > 0 && known.length <= 12 ? ` (valid: ${known.join(", ")})` : ""}`;
      });
    case "invalid_type": {
      const given = valueAt(raw, issue.path);
      const expected = KIND_NAMES[issue.expected] ?? issue.expected;
      if (given === undefined) return [`${where(issue.path)}: required (${expected})`];
      return [`${where(issue.path)}: expected ${expected}, got ${show(given)}`];
    }
    case "invalid_union":
    case "invalid_value": {
      const options = optionsOf(issue);
      if (!options) return [`${where(issue.path)}: ${issue.message}`];
      const given = valueAt(raw, issue.path);
      if (given === undefined)
        return [`${where(issue.path)}: required, one of ${options.join(", ")}`];
      const hint = typeof given === "string" ? closest(given, options) : undefined;
      return [
        `${where(issue.path)}: expected one of ${options.join(", ")}, got ${show(given)}${hint ? `; did you mean "${hint}"?` : ""}`,
      ];
    }
    default:
      return [`${where(issue.path)}: ${issue.message}`];
  }
}

const KIND_NAMES: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "text",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
};

/** The values an enum, a literal or a union's discriminator accepts. */
function optionsOf(issue: Issue): string[] | undefined {
  if (issue.code === "invalid_value") return issue.values.map(String);
  const options = (issue as { options?: unknown }).options;
  return Array.isArray(options) ? options.map(String) : undefined;
}

function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text =
    typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The object schemas a value at `path` may be checked by (through optionals, defaults, pipes, unions). */
function schemasAt(schema: z.ZodType, path: Path): Def[] {
  let current = unwrap(schema._zod.def as unknown as Def);
  for (const segment of path) {
    current = current.flatMap((def) => {
      if (def.type === "object") {
        const child = (def.shape as Record<string, z.ZodType>)[String(segment)];
        return child ? unwrap(child._zod.def as unknown as Def) : [];
      }
      if (def.type === "array" && typeof segment === "number")
        return unwrap((def.element as z.ZodType)._zod.def as unknown as Def);
      return [];
    });
  }
  return current;
}

function unwrap(def: Def): Def[] {
  const inner = (schema: unknown) => unwrap((schema as z.ZodType)._zod.def as unknown as Def);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
      return inner(def.innerType);
    case "pipe":
      return [...inner(def.in), ...inner(def.out)];
    case "union":
      return (def.options as unknown[]).flatMap(inner);
    default:
      return [def];
  }
}

function keysAt(schema: z.ZodType, path: Path): string[] {
  const keys = schemasAt(schema, path)
    .filter((def) => def.type === "object")
    .flatMap((def) => Object.keys(def.shape as object));
  return [...new Set(keys)];
}

/** The candidate nearest to `word` when it is a plausible misspelling (edit distance ≤ 2, or ≤ a third of its length). */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
