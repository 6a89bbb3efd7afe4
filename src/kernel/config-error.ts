// A configuration that cannot be used: every problem found, each naming its
// setting. Startup and `check-config` print them and exit with 2.

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}
