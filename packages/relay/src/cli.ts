/**
 * `parley-relay --config <file>`: runs the relay with JSON-line logs on stdout. The config file path may
 * also come from `PARLEY_CONFIG`; `PARLEY_PORT`, `PARLEY_HOST` and `PARLEY_DATA_DIR` override the file.
 * SIGTERM and SIGINT close connections (1001), wait for pending writes and exit 0.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "./config/config.js";
import { createJsonLogger } from "./core/logger.js";
import { createRelay } from "./core/relay.js";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string", short: "c" } } });
  const config = loadConfig(values.config);
  const logger = createJsonLogger({ level: config.logLevel });
  const relay = createRelay({ ...config, logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    relay.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error("close failed", { error });
        process.exit(1);
      },
    );
  };
  // A failed promise somewhere must not take every room down with it; it is a bug to log and fix.
  process.on("unhandledRejection", (error) => logger.error("unhandled rejection", { error }));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  await relay.listen();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`parley-relay: ${message}\n`);
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "start failed", error: message })}\n`,
  );
  process.exit(1);
});
