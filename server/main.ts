/**
 * The standalone WSE server on Bun: `bun run server` (= `bun server/main.ts`), `npm start`, and
 * the single-file executable built by `npm run build:exe`. Configuration comes from flags, `WSE_*`
 * environment variables and an optional JSON file (see `--help` and `server/config.ts`).
 *
 * Logs are JSON lines on stderr; the first `info` line after startup is a one-line summary.
 * SIGTERM/SIGINT drain gracefully (clients are closed with 1012 and reconnect elsewhere); a
 * second signal exits at once.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { ConfigError, helpText, loadConfig, type CliConfig } from "./config.ts";
import { openBroker, startupSummary, waitForShutdown } from "./cli.ts";
import { createDemoHandler, createDemoTokenIssuer, demoServerOptions, findDemoDir, startDemoTicker } from "./demo.ts";
import { createLogger } from "./log.ts";
import { DEFAULTS } from "./options.ts";
import { createServer } from "./mod.ts";
import type { WseServer } from "./types.ts";

/** Runs the CLI; resolves with an exit code when the server stopped (or could not start). */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let config: CliConfig;
  try {
    config = loadConfig({ argv, env, readFile: (path) => readFileSync(path, "utf8") });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`wse-server: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (config.help) {
    process.stdout.write(`${helpText("wse-server")}\n`);
    return 0;
  }
  if (config.version) {
    process.stdout.write(`${DEFAULTS.serverVersion}\n`);
    return 0;
  }

  const logger = createLogger({ level: config.logLevel, base: { service: "wse" } });
  const demoDir = config.demo ? findDemoDir(config.demoDir, import.meta.dir, process.cwd()) : undefined;
  if (config.demo && !demoDir) {
    logger.warn("demo page not found; --demo ignored", { looked_for: `${config.demoDir ?? "client/demo"}/index.html` });
  }
  const options = demoDir ? demoServerOptions(config.options) : config.options;

  let server: WseServer;
  let brokerKind: string;
  try {
    const opened = await openBroker(config, logger);
    brokerKind = opened.kind;
    server = createServer({ ...options, broker: opened.broker, logger });
  } catch (error) {
    logger.error("cannot start", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  }

  let listen;
  try {
    listen = demoDir ? serveWithDemo(server, createDemoHandler(demoDir, createDemoTokenIssuer(options.jwt))) : await server.listen();
  } catch (error) {
    logger.error("cannot listen", { error: error instanceof Error ? error.message : String(error) });
    await server.stop().catch(() => {});
    return 1;
  }
  logger.info("wse server started", startupSummary({ ...config, demo: demoDir !== undefined }, listen, brokerKind, `bun ${Bun.version}`));
  const ticker = demoDir ? startDemoTicker(server, logger) : undefined;
  if (demoDir) logger.info("demo page", { url: `http://${hostForUrl(listen.hostname)}:${listen.port}/demo/` });

  return await waitForShutdown(server, logger, config, (signal, handler) => process.on(signal, handler), () => ticker?.stop());
}


/** Serves the demo routes under `/demo/` beside the server's own routes in one `Bun.serve`. */
function serveWithDemo(
  server: WseServer,
  demo: (request: Request) => Response | Promise<Response> | undefined,
): { url: string; hostname: string; port: number } {
  const options = server.options;
  const bun = Bun.serve({
    hostname: options.host,
    port: options.port,
    fetch(request, srv) {
      return demo(request) ?? (server.fetch(request, srv) as Response | Promise<Response>);
    },
    websocket: server.websocket as Parameters<typeof Bun.serve>[0] extends { websocket?: infer W } ? W : never,
  });
  server.attach(bun);
  const hostname = bun.hostname ?? options.host;
  return { url: `ws://${hostForUrl(hostname)}:${bun.port}${options.path}`, hostname, port: bun.port ?? options.port };
}

function hostForUrl(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), process.env);
  process.exit(code);
}
