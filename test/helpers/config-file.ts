// A GATEHOUSE_CONFIG file for a test: the YAML written to a fresh temporary
// directory, its path returned.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function configFile(yaml: string, name = "gatehouse.yaml"): string {
  const file = join(mkdtempSync(join(tmpdir(), "gatehouse-config-")), name);
  writeFileSync(file, yaml);
  return file;
}

/** Access rules as YAML, one line per element. */
export function rulesFile(...lines: string[]): string {
  return configFile(["rules:", ...lines, ""].join("\n"));
}
