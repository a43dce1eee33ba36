/**
 * Entry of the `bun build --compile` check (`compiled.test.ts`): uses the codec facade inside a
 * standalone executable and prints one JSON line with what it observed.
 * @module
 */
import { CodecError, createDedupWindow, decodeFrame, defaultCodec, encodeFrame, wasmCodec } from "../../wasm/mod.ts";

const text = JSON.stringify({ c: "U", t: "compiled", p: { n: [1, 2, 3] } }).repeat(30);
const a = wasmCodec.generateKeyPair();
const b = wasmCodec.generateKeyPair();
const sender = a.deriveKey(b.publicKey);
const receiver = b.deriveKey(a.publicKey);
const roundTrips = (["none", "zlib", "zstd"] as const).map((compression) => {
  const wire = encodeFrame(text, wasmCodec, { compression, key: sender });
  return decodeFrame(wire, wasmCodec, { key: receiver }).text === text;
});
let bombCode = "";
try {
  wasmCodec.zstdDecompress(wasmCodec.zstdCompress(new Uint8Array(8 << 20)), 1 << 20);
} catch (error) {
  bombCode = error instanceof CodecError ? error.code : String(error);
}
const dedup = createDedupWindow();
dedup.seen("m1");
const nativeRoundTrip =
  new TextDecoder().decode(defaultCodec.zlibDecompress(defaultCodec.zlibCompress(new TextEncoder().encode(text)), 1 << 20)) === text;
console.log(
  JSON.stringify({ roundTrips, bombCode, dedupSeen: dedup.seen("m1"), defaultBackend: defaultCodec.backend, nativeRoundTrip }),
);
