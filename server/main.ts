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
import { type CliRuntime, type DemoHandler, hostForUrl, runCli } from "./cli-run.ts";
import { createServer } from "./mod.ts";
import type { ListenInfo, WseServer } from "./types.ts";

type BunWse = ReturnType<typeof createServer>;

/** The Bun side of the CLI. */
const bunRuntime: CliRuntime<BunWse> = {
  program: "wse-server",
  version: `bun ${Bun.version}`,
  moduleDir: import.meta.dir,
  cwd: process.cwd(),
  readFile: (path) => readFileSync(path, "utf8"),
  print: (line) => void process.stdout.write(`${line}\n`),
  printError: (line) => void process.stderr.write(`${line}\n`),
  createServer,
  listen: (server, demo) => (demo ? serveWithDemo(server, demo) : server.listen()),
  onSignal: (signal, handler) => void process.on(signal, handler),
};

/** Runs the CLI; resolves with an exit code when the server stopped (or could not start). */
export function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  return runCli(argv, env, bunRuntime);
}

/** Serves the demo routes under `/demo/` beside the server's own routes in one `Bun.serve`. */
function serveWithDemo(server: WseServer, demo: DemoHandler): ListenInfo {
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

if (import.meta.main) {
  const code = await main(process.argv.slice(2), process.env);
  process.exit(code);
}
