/**
 * `npm run build:browser`: bundles the client for browsers and builds the demo page.
 *
 * Outputs:
 * - `dist/wse-client.js` — one ESM file: `client/mod.ts` with the codec's WASM inlined, no imports.
 * - `client/demo/demo.js` — the demo's React app (`client/demo/app.tsx` with React and the
 *   `useWSE` hook); it imports the client core from `./wse-client.js`, not from its own copy.
 * - `client/demo/wse-client.js` — a copy of the bundle next to the demo.
 *
 * The server serves `client/demo/` at `/demo/` with `--demo` (index.html, demo.css, demo.js,
 * wse-client.js). Usage: `bun scripts/build-browser.ts [--outdir dist] [--demo-dir client/demo] [--no-minify]`.
 *
 * @module
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { BunPlugin } from "bun";

/** Build options. */
export interface BuildBrowserOptions {
  /** Output directory of the bundle (default `dist` at the repository root). */
  outdir?: string;
  /** Where the demo's built files go (default `client/demo`). */
  demoDir?: string;
  /** Minify (default true). */
  minify?: boolean;
}

/** What was written. */
export interface BuildBrowserResult {
  /** Absolute path of the client bundle. */
  bundle: string;
  /** Absolute path of the demo directory. */
  demoDir: string;
  /** Bytes of the client bundle. */
  bundleBytes: number;
}

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** Resolves the demo's imports of the client core to the prebuilt bundle `./wse-client.js`. */
const useClientBundle: BunPlugin = {
  name: "wse-client-bundle",
  setup(build) {
    build.onResolve({ filter: /(^|\/)(client|mod)\.ts$/ }, (args) => {
      const target = resolve(dirname(args.importer), args.path);
      if (target === join(ROOT, "client/client.ts") || target === join(ROOT, "client/mod.ts")) {
        return { path: "./wse-client.js", external: true };
      }
      return undefined;
    });
  },
};

async function bundle(config: Parameters<typeof Bun.build>[0]): Promise<void> {
  const result = await Bun.build(config);
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build of ${config.entrypoints.join(", ")} failed`);
  }
}

/** Builds the browser bundle and the demo; returns where they went. */
export async function buildBrowser(options: BuildBrowserOptions = {}): Promise<BuildBrowserResult> {
  const outdir = resolve(ROOT, options.outdir ?? "dist");
  const demoDir = resolve(ROOT, options.demoDir ?? "client/demo");
  const minify = options.minify ?? true;
  mkdirSync(demoDir, { recursive: true });
  await bundle({
    entrypoints: [join(ROOT, "client/mod.ts")],
    outdir,
    naming: "wse-client.js",
    target: "browser",
    format: "esm",
    minify,
    sourcemap: "none",
  });
  const bundlePath = join(outdir, "wse-client.js");
  await bundle({
    entrypoints: [join(ROOT, "client/demo/app.tsx")],
    outdir: demoDir,
    naming: "demo.js",
    target: "browser",
    format: "esm",
    minify,
    plugins: [useClientBundle],
    define: { "process.env.NODE_ENV": JSON.stringify(minify ? "production" : "development") },
  });
  copyFileSync(bundlePath, join(demoDir, "wse-client.js"));
  if (demoDir !== join(ROOT, "client/demo")) {
    copyFileSync(join(ROOT, "client/demo/index.html"), join(demoDir, "index.html"));
    copyFileSync(join(ROOT, "client/demo/demo.css"), join(demoDir, "demo.css"));
  }
  return { bundle: bundlePath, demoDir, bundleBytes: Bun.file(bundlePath).size };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--outdir");
  const demoAt = args.indexOf("--demo-dir");
  const result = await buildBrowser({
    outdir: at >= 0 ? args[at + 1] : undefined,
    demoDir: demoAt >= 0 ? args[demoAt + 1] : undefined,
    minify: !args.includes("--no-minify"),
  });
  console.log(`wrote ${result.bundle} (${result.bundleBytes} bytes) and ${result.demoDir}/`);
}
