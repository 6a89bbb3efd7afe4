// The operator's command line (`npm run cli -- <command>`, `gatehouse <command>`):
// the commands are in cli/commands.ts; a usage, configuration or account
// error exits with 2 and its message, never a stack trace. Module loading is
// set up first (package-formats.ts), then the commands are loaded.
import "./package-formats.ts";

const { runCommand } = await import("./cli/commands.ts");
const code = await runCommand(process.argv.slice(2), process.env, {
  print: (line) => console.log(line),
  printError: (line) => console.error(line),
});
if (code !== 0) process.exit(code);
