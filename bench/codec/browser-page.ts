/**
 * Browser entry of the codec benchmark (`bun bench/codec.ts --chromium`): runs the operations
 * that exist in a browser (WASM, WebCrypto, fflate) and publishes the results on `window`.
 * @module
 */
import { type CodecResult, runOperations } from "./core.ts";
import { codecOperations } from "./operations.ts";

const params = new URLSearchParams(location.search);
const timing = {
  cellMs: Number(params.get("cellMs") ?? 450),
  rounds: Number(params.get("rounds") ?? 3),
  warmupMs: Number(params.get("warmupMs") ?? 50),
};
const target = globalThis as unknown as { __bench?: { results?: CodecResult[]; error?: string; userAgent: string } };

codecOperations({})
  .then((ops) => runOperations(ops, timing))
  .then(
    (results) => {
      target.__bench = { results, userAgent: navigator.userAgent };
    },
    (error: unknown) => {
      target.__bench = { error: String((error as Error)?.stack ?? error), userAgent: navigator.userAgent };
    },
  );
