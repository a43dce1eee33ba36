/**
 * The codec facade that the server and the client import (`wse-ts/codec`): the contract types
 * (`./api.ts`), the frame and envelope layers (`./frame.ts`, `./envelope.ts`), the WASM-backed
 * codec, the client's sequencer and dedup window, and `defaultCodec`, which picks per
 * operation the faster backend on the current runtime. The same import works in Bun, Deno,
 * Node 22, browser bundles and `bun build --compile` executables (the wasm is inlined).
 *
 * @example
 * ```ts
 * import { createSequencer, decodeFrame, encodeFrame, wasmCodec } from "./mod.ts";
 * const key = wasmCodec.importKey(new Uint8Array(32));
 * const wire = encodeFrame('{"t":"hi","p":{}}', wasmCodec, { compression: "zstd", key });
 * decodeFrame(wire, wasmCodec, { key }).text; // '{"t":"hi","p":{}}'
 * createSequencer().check("prices", "0000beef", 0); // "deliver"
 * ```
 * @module
 */
export * from "./api.ts";
export * from "./frame.ts";
export * from "./envelope.ts";
export { keyPairFromSecret, wasmCodec } from "./wasm-codec.ts";
export { createDedupWindow, createSequencer, DEFAULT_DEDUP_CAPACITY, DEFAULT_DEDUP_MAX_AGE_MS } from "./sequencing.ts";
export { type CodecOperation, combineCodecs, defaultCodec, NATIVE_OPERATIONS, nativeCodecIfAvailable } from "./default-codec.ts";
