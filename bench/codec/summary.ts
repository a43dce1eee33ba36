/**
 * Markdown summary of the codec benchmark results (`bun bench/codec.ts --summary`), for the
 * README's codec table: per operation at 1 KB and 16 KB, WASM's messages/s on each runtime,
 * the built-in's speed relative to WASM measured in the same run, and the path
 * `defaultCodec` takes on servers (Bun/Deno/Node) and in browsers.
 * @module
 */
import { NATIVE_OPERATIONS, type CodecOperation } from "../../wasm/default-codec.ts";
import type { CodecResult } from "./core.ts";

/** One saved result file. */
export interface SavedRun {
  runtime: string;
  runtimeVersion: string;
  results: CodecResult[];
}

const OPERATIONS: [string, CodecOperation][] = [
  ["zlib compress", "zlibCompress"],
  ["zlib decompress", "zlibDecompress"],
  ["zstd compress", "zstdCompress"],
  ["zstd decompress", "zstdDecompress"],
  ["AES-GCM encrypt", "importKey"],
  ["AES-GCM decrypt", "importKey"],
  ["ECDH+HKDF handshake", "generateKeyPair"],
];

function k(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)}k` : n.toLocaleString("en-US");
}

function cell(run: SavedRun | undefined, operation: string, size: number, builtin: string): string {
  if (!run) return "–";
  const rows = run.results.filter((r) => r.operation === operation && r.size === size);
  const wasm = rows.find((r) => r.implementation === "wasm");
  const other = rows.find((r) => r.implementation.startsWith(builtin));
  if (!wasm) return "–";
  return other ? `${k(wasm.messagesPerSec)} (${other.vsWasm.toFixed(2)}×)` : k(wasm.messagesPerSec);
}

/** Renders the summary table from the saved runs (any may be missing). */
export function codecSummary(runs: SavedRun[]): string {
  const by = (name: string) => runs.find((r) => r.runtime === name);
  const runtimes = ["bun", "deno", "node", "chromium"] as const;
  const header = runtimes.map((r) => `${r} ${by(r)?.runtimeVersion ?? ""}`.trim());
  const lines = [
    `| operation | size | ${header.join(" | ")} | server path | browser path |`,
    `|---|---|${runtimes.map(() => "---:").join("|")}|---|---|`,
  ];
  for (const [operation, codecOp] of OPERATIONS) {
    const sizes = operation.startsWith("ECDH") ? [0] : [1024, 16 * 1024];
    for (const size of sizes) {
      const builtin = (runtime: string) => (runtime === "chromium" ? "WebCrypto" : "native");
      const cells = runtimes.map((r) => cell(by(r), operation, size, builtin(r)));
      const server = NATIVE_OPERATIONS.has(codecOp) ? "native" : "wasm";
      lines.push(`| ${operation} | ${size ? `${size / 1024} KB` : "–"} | ${cells.join(" | ")} | ${server} | wasm |`);
    }
  }
  lines.push(
    "",
    "Cells: WASM messages/s on one thread (built-in ÷ WASM in the same run: node:zlib / node:crypto via",
    "`nativeCodec` on Bun, Deno and Node; async WebCrypto in Chromium, which the synchronous `Codec`",
    "interface cannot use). Full tables: `bench/results/codec-*.json`.",
  );
  return lines.join("\n");
}
