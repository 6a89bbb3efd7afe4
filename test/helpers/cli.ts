// The operator CLI in tests: in this process (its commands with services of
// their own, as a separate process has), or as a process of its own (for
// what one process cannot show itself: the embedded database's lock, the
// admin channel, the exit code).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { runCommand } from "../../src/cli/commands.ts";

export type CliResult = { code: number; stdout: string; stderr: string };

const spawned = promisify(execFile);

/** Runs a command in this process, as `gatehouse <args>` would, with the environment given. */
export async function cli(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCommand(
    args,
    { ...process.env, LOG_LEVEL: "silent", ...env },
    { print: (line) => out.push(line), printError: (line) => err.push(line) },
  );
  const text = (lines: string[]) => lines.map((line) => `${line}\n`).join("");
  return { code, stdout: text(out), stderr: text(err) };
}

/** Runs `src/cli.ts <args>` as its own process. */
export async function cliProcess(
  env: Record<string, string>,
  ...args: string[]
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await spawned(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      { env: { ...process.env, LOG_LEVEL: "silent", ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
