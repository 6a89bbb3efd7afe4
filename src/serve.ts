// Starts gatehouse (after main.ts has set up module loading): load and validate config, open the database (applying
// migrations), build the app, serve, and shut down gracefully on SIGTERM.
import { createGatehouse } from "./app.ts";
import { loadBrands } from "./branding/brands.ts";
import { adminChannelPath, commandServices, serveAdminChannel } from "./cli/admin-channel.ts";
import { ConfigError, configWarnings, loadConfig } from "./config.ts";
import { DataDirInUse, openDatabase } from "./db/client.ts";
import { loadLanguages } from "./i18n/languages.ts";
import { createLogger } from "./logger.ts";
import { loadTemplates } from "./mail/templates.ts";
import { connectRedis } from "./redis/client.ts";
import { startServer } from "./server.ts";

async function main(argv: string[]): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
    loadTemplates(config.email_templates_dir);
    loadLanguages(config);
    loadBrands(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const warnings = configWarnings(config);
  if (argv.includes("--check-config")) {
    for (const warning of warnings) console.error(`warning: ${warning}`);
    console.log("configuration is valid");
    return;
  }
  const logger = createLogger(config.log_level);
  for (const warning of warnings) logger.warn(warning);
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase(
      config.database_url
        ? { kind: "postgres", url: config.database_url }
        : { kind: "pglite", dataDir: config.data_dir },
    );
  } catch (error) {
    if (!(error instanceof DataDirInUse)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const redis = connectRedis(config, logger);
  let gatehouse: Awaited<ReturnType<typeof createGatehouse>>;
  try {
    gatehouse = await createGatehouse({ config, database, logger, redis, defaultMetrics: true });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }

  // The embedded database is this process's alone: the CLI sends its commands here.
  const channel =
    database.kind === "pglite"
      ? await serveAdminChannel(
          adminChannelPath(config.data_dir),
          commandServices(gatehouse),
          (error, context) => logger.error({ err: error, context }, `${context} failed`),
        )
      : null;
  const { server: http, port } = await startServer(gatehouse, {
    port: config.port,
    host: config.host,
  });
  logger.info(
    { host: config.host, port, database: database.kind, publicUrl: config.public_url.origin },
    `gatehouse listening on ${config.host}:${port}`,
  );

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
        gatehouse.close();
        await channel?.close();
        await redis?.close();
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
