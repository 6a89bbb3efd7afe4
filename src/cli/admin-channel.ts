// The running server's admin channel: with the embedded database only one
// process may hold DATA_DIR, so a CLI command started beside a running
// server is sent here and runs in the server, on its own services (and
// therefore its caches and revocation messages). The channel is a Unix
// socket inside DATA_DIR, readable and writable by its owner only: whoever
// can reach it could read the database files anyway. One request a
// connection: a JSON line {argv}; the answer is JSON lines {out} / {err},
// then {code}.
import { chmodSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import type { Gatehouse } from "../app.ts";
import { type CommandOutput, type CommandServices, execute, isCommandError } from "./commands.ts";

const MAX_REQUEST_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export const adminChannelPath = (dataDir: string) => join(dataDir, "gatehouse-admin.sock");

export function commandServices(gatehouse: Gatehouse): CommandServices {
  return {
    db: gatehouse.database.db,
    apiKeys: gatehouse.apiKeys,
    admin: gatehouse.users,
    directory: gatehouse.directory,
    audits: gatehouse.audits,
    audit: gatehouse.audit,
    adminRole: gatehouse.config.admin_role,
    sessions: gatehouse.sessions,
    factors: gatehouse.factors,
  };
}

/** Listens on the socket (replacing a stale one); close() stops and removes it. */
export async function serveAdminChannel(
  path: string,
  services: CommandServices,
  logError: (error: unknown, context: string) => void,
): Promise<{ close(): Promise<void> }> {
  rmSync(path, { force: true });
  const server: Server = createServer((socket) => {
    let buffer = "";
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    socket.setEncoding("utf8");
    const send = (message: Record<string, unknown>) => socket.write(`${JSON.stringify(message)}\n`);
    socket.on("error", () => {});
    socket.on("data", (chunk: string) => {
      if (buffer === null) return;
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) return socket.destroy();
      const end = buffer.indexOf("\n");
      if (end === -1) return;
      const line = buffer.slice(0, end);
      buffer = "";
      socket.removeAllListeners("data");
      let argv: unknown;
      try {
        argv = (JSON.parse(line) as { argv?: unknown }).argv;
      } catch {}
      if (!Array.isArray(argv) || !argv.every((arg) => typeof arg === "string")) {
        send({ err: 'the admin channel expects {"argv": [...]}' });
        send({ code: 2 });
        return socket.end();
      }
      const output: CommandOutput = {
        print: (text) => send({ out: text }),
        printError: (text) => send({ err: text }),
      };
      execute(argv as string[], services, output).then(
        () => {
          send({ code: 0 });
          socket.end();
        },
        (error) => {
          if (isCommandError(error)) {
            send({ err: (error as Error).message });
            send({ code: 2 });
          } else {
            logError(error, "admin channel command");
            send({ err: "the command failed in the server: see its log" });
            send({ code: 1 });
          }
          socket.end();
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}

/**
 * Sends a command to the running server; its output is printed here.
 * Returns its exit code, or null when no server listens (no socket).
 */
export function sendToAdminChannel(
  path: string,
  argv: string[],
  output: CommandOutput,
): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let buffer = "";
    let code: number | null = null;
    let connected = false;
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      connected = true;
      socket.write(`${JSON.stringify({ argv })}\n`);
    });
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let end = buffer.indexOf("\n");
      while (end !== -1) {
        const message = JSON.parse(buffer.slice(0, end)) as {
          out?: string;
          err?: string;
          code?: number;
        };
        buffer = buffer.slice(end + 1);
        if (typeof message.out === "string") output.print(message.out);
        if (typeof message.err === "string") output.printError(message.err);
        if (typeof message.code === "number") code = message.code;
        end = buffer.indexOf("\n");
      }
    });
    socket.on("error", () => {
      if (!connected) resolve(null);
    });
    socket.on("close", () => {
      if (!connected) return resolve(null);
      if (code === null) output.printError("the server closed the admin channel without an answer");
      resolve(code ?? 1);
    });
  });
}
