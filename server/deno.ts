/**
 * The standalone WSE server on Deno: `deno task server` (= `deno run -A server/deno.ts`). Same
 * flags, `WSE_*` variables and config file as the Bun CLI (`server/main.ts`, see `--help`);
 * the host itself is `server/deno-server.ts`.
 *
 * @module
 */
import { type CliRuntime, runCli } from "./cli-run.ts";
import { createDenoServer, type DenoWseServer } from "./deno-server.ts";
import { deno } from "./deno-runtime.ts";

export { createDenoServer, DenoWseServer } from "./deno-server.ts";

/** The Deno side of the CLI. */
const denoRuntime: CliRuntime<DenoWseServer> = {
  program: "deno task server",
  version: `deno ${deno.version.deno}`,
  moduleDir: new URL(".", import.meta.url).pathname,
  cwd: deno.cwd(),
  readFile: (path) => deno.readTextFileSync(path),
  print: (line) => console.log(line),
  printError: (line) => console.error(line),
  createServer: createDenoServer,
  listen: (server, demo) => server.listen(demo),
  onSignal: (signal, handler) => deno.addSignalListener(signal, handler),
};

/** Runs the Deno CLI; resolves with an exit code once the server stopped (or could not start). */
export function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  return runCli(argv, env, denoRuntime);
}

if (import.meta.main) {
  const code = await main(deno.args, deno.env.toObject());
  deno.exit(code);
}
