/**
 * Codec benchmark (`npm run bench:codec`): the WASM core vs the runtime built-ins (node:zlib,
 * Bun's zstd, node:crypto via `nativeCodec`, WebCrypto) vs fflate (pure JS), for zlib, zstd,
 * AES-256-GCM and the ECDH+HKDF handshake, at 100 B, 1 KB, 16 KB and 256 KB of JSON-like
 * payload. Prints a table (messages/s, MB/s, speed relative to WASM in the same run,
 * compression ratio) and writes `bench/results/codec-<runtime>.json`. Every cell is
 * time-boxed: a run takes well under two minutes.
 *
 * Usage: `bun bench/codec.ts [--quick] [--chromium] [--summary]`, `deno run -A bench/codec.ts`,
 * `node bench/codec.ts`. `--chromium` (Bun only) runs the browser-side operations in headless
 * Chromium (playwright-core, /usr/bin/chromium) and writes `codec-chromium.json`; `--summary`
 * only prints the README's markdown table from the saved results.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nativeCodec } from "../wasm/native.ts";
import { type BenchTiming, type CodecResult, formatTable, runOperations } from "./codec/core.ts";
import { type Builtins, codecOperations } from "./codec/operations.ts";
import { codecSummary, type SavedRun } from "./codec/summary.ts";

const quick = process.argv.includes("--quick");
const timing: BenchTiming = { cellMs: quick ? 150 : 450, rounds: 3, warmupMs: quick ? 20 : 50 };

type BunGlobal = { version: string } & NonNullable<Builtins["bunZstd"]>;
const bun = (globalThis as { Bun?: BunGlobal }).Bun;
const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
const resultsDir = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "results");

function save(runtime: string, runtimeVersion: string, results: CodecResult[], seconds: number): void {
  console.log(`codec benchmark — ${runtime} ${runtimeVersion}, best of ${timing.rounds} interleaved rounds, ${timing.cellMs} ms per cell, ${seconds.toFixed(1)} s`);
  console.log(formatTable(results));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `codec-${runtime}.json`);
  const report = {
    runtime,
    runtimeVersion,
    date: new Date().toISOString(),
    timing,
    seconds: Number(seconds.toFixed(1)),
    note: "messages/s on one thread, best of interleaved rounds; vsWasm = this ÷ wasm for the same operation and size, same run",
    results,
  };
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  console.log(`wrote ${file}`);
}

async function runHere(): Promise<void> {
  const runtime = bun ? "bun" : deno ? "deno" : "node";
  const version = bun ? bun.version : deno ? deno.version.deno : process.versions.node!;
  const started = performance.now();
  const ops = await codecOperations({ native: nativeCodec, bunZstd: bun });
  const results = await runOperations(ops, timing);
  save(runtime, version, results, (performance.now() - started) / 1000);
}

async function runChromium(): Promise<void> {
  if (!bun) throw new Error("--chromium needs Bun (Bun.build and Bun.serve)");
  const { chromium } = await import("playwright-core");
  const started = performance.now();
  const built = await (globalThis as unknown as { Bun: { build(o: object): Promise<{ success: boolean; logs: unknown[]; outputs: Blob[] }> } }).Bun.build({
    entrypoints: [join(import.meta.dirname!, "codec/browser-page.ts")],
    target: "browser",
    format: "esm",
    minify: true,
  });
  if (!built.success) throw new Error(`browser bundle failed: ${built.logs.map(String).join("\n")}`);
  const script = await built.outputs[0]!.text();
  const server = (globalThis as unknown as { Bun: { serve(o: object): { port: number; stop(force: boolean): void } } }).Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request: Request) =>
      new URL(request.url).pathname === "/bench.js"
        ? new Response(script, { headers: { "content-type": "text/javascript" } })
        : new Response('<!doctype html><meta charset="utf-8"><script type="module" src="/bench.js"></script>', {
            headers: { "content-type": "text/html" },
          }),
  });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    timeout: 30_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/?cellMs=${timing.cellMs}&rounds=${timing.rounds}&warmupMs=${timing.warmupMs}`);
    await page.waitForFunction(() => (globalThis as { __bench?: unknown }).__bench !== undefined, undefined, { timeout: 110_000 });
    const outcome = (await page.evaluate(() => (globalThis as { __bench?: unknown }).__bench)) as { results?: CodecResult[]; error?: string; userAgent: string };
    if (!outcome.results) throw new Error(`benchmark page failed: ${outcome.error}`);
    const version = /Chrome\/([\d.]+)/.exec(outcome.userAgent)?.[1] ?? "unknown";
    save("chromium", version, outcome.results, (performance.now() - started) / 1000);
  } finally {
    await browser.close();
    server.stop(true);
  }
}

function printSummary(): void {
  const runs: SavedRun[] = [];
  for (const name of ["bun", "deno", "node", "chromium"]) {
    const file = join(resultsDir, `codec-${name}.json`);
    if (existsSync(file)) runs.push(JSON.parse(readFileSync(file, "utf8")) as SavedRun);
  }
  console.log(codecSummary(runs));
}

if (process.argv.includes("--summary")) printSummary();
else await (process.argv.includes("--chromium") ? runChromium() : runHere());
