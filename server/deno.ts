/**
 * The standalone WSE server on Deno: `deno task server` (= `deno run -A server/deno.ts`). Same
 * flags, `WSE_*` variables and config file as the Bun CLI (`server/main.ts`, see `--help`);
 * the host itself is `server/deno-server.ts`.
 *
 * @module
 */
import { openBroker, startupSummary, waitForShutdown } from "./cli.ts";
import { ConfigError, helpText, loadConfig, type CliConfig } from "./config.ts";
import { createDenoServer, type DenoWseServer } from "./deno-server.ts";
import { deno } from "./deno-runtime.ts";
import { createDemoHandler, createDemoTokenIssuer, demoServerOptions, findDemoDir, startDemoTicker } from "./demo.ts";
import { createLogger } from "./log.ts";
import { DEFAULTS } from "./options.ts";

export { createDenoServer, DenoWseServer } from "./deno-server.ts";

/** Runs the Deno CLI; resolves with an exit code once the server stopped (or could not start). */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let config: CliConfig;
  try {
    config = loadConfig({ argv, env, readFile: (path) => deno.readTextFileSync(path) });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`wse-server: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (config.help) {
    console.log(helpText("deno task server"));
    return 0;
  }
  if (config.version) {
    console.log(DEFAULTS.serverVersion);
    return 0;
  }
  const logger = createLogger({ level: config.logLevel, base: { service: "wse" } });
  const demoDir = config.demo ? findDemoDir(config.demoDir, new URL(".", import.meta.url).pathname, deno.cwd()) : undefined;
  if (config.demo && !demoDir) {
    logger.warn("demo page not found; --demo ignored", { looked_for: `${config.demoDir ?? "client/demo"}/index.html` });
  }

  const options = demoDir ? demoServerOptions(config.options) : config.options;

  let server: DenoWseServer;
  let brokerKind: string;
  try {
    const opened = await openBroker(config, logger);
    brokerKind = opened.kind;
    server = createDenoServer({ ...options, broker: opened.broker, logger });
  } catch (error) {
    logger.error("cannot start", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  }
  let listen;
  try {
    listen = await server.listen(demoDir ? createDemoHandler(demoDir, createDemoTokenIssuer(options.jwt)) : undefined);
  } catch (error) {
    logger.error("cannot listen", { error: error instanceof Error ? error.message : String(error) });
    await server.stop().catch(() => {});
    return 1;
  }
  const summary = startupSummary({ ...config, demo: demoDir !== undefined }, listen, brokerKind, `deno ${deno.version.deno}`);
  logger.info("wse server started", summary);
  const ticker = demoDir ? startDemoTicker(server, logger) : undefined;
  if (demoDir) logger.info("demo page", { url: `${summary.http}/demo/` });
  return await waitForShutdown(server, logger, config, (signal, handler) => deno.addSignalListener(signal, handler), () => ticker?.stop());
}


if (import.meta.main) {
  const code = await main(deno.args, deno.env.toObject());
  deno.exit(code);
}
