// Starts gatehouse: load and validate config, open the database (applying
// migrations), build the app, serve, and shut down gracefully on SIGTERM.
import { type ServerType, serve } from "@hono/node-server";
import { createGatehouse } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { openDatabase } from "./db/client.ts";
import { createLogger } from "./logger.ts";

async function main(argv: string[]): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  if (argv.includes("--check-config")) {
    console.log("configuration is valid");
    return;
  }
  const logger = createLogger(config.log_level);
  const database = await openDatabase(
    config.database_url
      ? { kind: "postgres", url: config.database_url }
      : { kind: "pglite", dataDir: config.data_dir },
  );
  const gatehouse = await createGatehouse({ config, database, logger, defaultMetrics: true });

  const server: ServerType = serve(
    { fetch: gatehouse.app.fetch, port: config.port, hostname: config.host },
    (info) => {
      logger.info(
        {
          address: info.address,
          port: info.port,
          database: database.kind,
          publicUrl: config.public_url.origin,
        },
        `gatehouse listening on ${info.address}:${info.port}`,
      );
    },
  );
  // Longer than nginx's 60 s upstream keepalive, so the proxy always closes idle connections first.
  const http = server as import("node:http").Server;
  http.keepAliveTimeout = 75_000;
  http.headersTimeout = 80_000;
  http.requestTimeout = 30_000;

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainSeconds: config.shutdown_drain }, "shutting down");
    gatehouse.draining.value = true;
    const hardStop = setTimeout(
      () => {
        logger.warn("shutdown took too long; exiting");
        process.exit(1);
      },
      (config.shutdown_drain + 15) * 1000,
    );
    hardStop.unref();
    setTimeout(() => {
      http.close(async () => {
        await database.close().catch(() => {});
        logger.info("stopped");
        process.exit(0);
      });
      http.closeIdleConnections();
    }, config.shutdown_drain * 1000);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

await main(process.argv.slice(2));
