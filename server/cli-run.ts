/**
 * The standalone server's start-up sequence, shared by the Bun CLI (`server/main.ts`) and the
 * Deno CLI (`server/deno.ts`): configuration, logger, demo page, broker, server, listen, the
 * startup summary line and the wait for a shutdown signal. Each CLI supplies what differs by
 * runtime as a `CliRuntime`.
 *
 * @example
 * ```ts
 * const code = await runCli(process.argv.slice(2), process.env, bunRuntime);
 * ```
 * @module
 */
import { openBroker, type ShutdownSignal, startupSummary, waitForShutdown } from "./cli.ts";
import { type CliConfig, ConfigError, helpText, loadConfig } from "./config.ts";
import { createDemoHandler, createDemoTokenIssuer, demoServerOptions, findDemoDir, startDemoTicker } from "./demo.ts";
import { createLogger } from "./log.ts";
import { DEFAULTS, type ServerOptions } from "./options.ts";
import type { ListenInfo, WseServer } from "./types.ts";

/** A handler that answers the demo routes and returns undefined for everything else. */
export type DemoHandler = (request: Request) => Response | Promise<Response> | undefined;

/** What a runtime's CLI supplies to `runCli`. */
export interface CliRuntime<S extends WseServer> {
  /** Program name shown in `--help`. */
  program: string;
  /** `bun 1.x` / `deno 2.x`, for the startup summary. */
  version: string;
  /** Directory of the CLI module and the working directory (where the demo page is looked for). */
  moduleDir: string;
  cwd: string;
  /** Reads a config file as text. */
  readFile(path: string): string;
  /** Writes a line to stdout / stderr. */
  print(line: string): void;
  printError(line: string): void;
  /** Creates the runtime's server. */
  createServer(options: ServerOptions): S;
  /** Starts listening, serving `demo` routes first when given. */
  listen(server: S, demo: DemoHandler | undefined): Promise<ListenInfo> | ListenInfo;
  /** Installs a signal handler. */
  onSignal(signal: ShutdownSignal, handler: () => void): void;
}

/** A host name usable in a URL a person can open (wildcard binds become loopback). */
export function hostForUrl(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** Runs the CLI; resolves with an exit code when the server stopped (or could not start). */
export async function runCli<S extends WseServer>(
  argv: string[],
  env: Record<string, string | undefined>,
  runtime: CliRuntime<S>,
): Promise<number> {
  let config: CliConfig;
  try {
    config = loadConfig({ argv, env, readFile: runtime.readFile });
  } catch (error) {
    if (error instanceof ConfigError) {
      runtime.printError(`wse-server: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (config.help) {
    runtime.print(helpText(runtime.program));
    return 0;
  }
  if (config.version) {
    runtime.print(DEFAULTS.serverVersion);
    return 0;
  }

  const logger = createLogger({ level: config.logLevel, base: { service: "wse" } });
  const demoDir = config.demo ? findDemoDir(config.demoDir, runtime.moduleDir, runtime.cwd) : undefined;
  if (config.demo && !demoDir) {
    logger.warn("demo page not found; --demo ignored", { looked_for: `${config.demoDir ?? "client/demo"}/index.html` });
  }
  const options = demoDir ? demoServerOptions(config.options) : config.options;

  let server: S;
  let brokerKind: string;
  try {
    const opened = await openBroker(config, logger);
    brokerKind = opened.kind;
    server = runtime.createServer({ ...options, broker: opened.broker, logger });
  } catch (error) {
    logger.error("cannot start", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  }

  let listen: ListenInfo;
  try {
    const demo = demoDir ? createDemoHandler(demoDir, createDemoTokenIssuer(options.jwt)) : undefined;
    listen = await runtime.listen(server, demo);
  } catch (error) {
    logger.error("cannot listen", { error: error instanceof Error ? error.message : String(error) });
    await server.stop().catch(() => {});
    return 1;
  }
  logger.info("wse server started", startupSummary({ ...config, demo: demoDir !== undefined }, listen, brokerKind, runtime.version));
  const ticker = demoDir ? startDemoTicker(server, logger) : undefined;
  if (demoDir) logger.info("demo page", { url: `http://${hostForUrl(listen.hostname)}:${listen.port}/demo/` });

  return await waitForShutdown(server, logger, config, runtime.onSignal, () => ticker?.stop());
}
