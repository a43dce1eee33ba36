/**
 * Cross-checks that must run on Node 22 itself: node:zlib's zlib and zstd (Node 22.15+) and
 * Node's WebCrypto against the WASM codec, in both directions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as zlib from "node:zlib";
import { wasmCodec } from "../../wasm/mod.ts";
import { sample } from "./facade-cases.ts";

const SIZES = [0, 1, 100, 1024, 16 * 1024, 256 * 1024];
/** Types a byte view as WebCrypto input (TS 5.9 distinguishes ArrayBufferLike). */
const bs = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;
type Zstd = { zstdCompressSync(d: Uint8Array): Uint8Array; zstdDecompressSync(d: Uint8Array): Uint8Array };

test("zlib interoperates with Node's node:zlib", { timeout: 30_000 }, () => {
  for (const n of SIZES) {
    const data = sample(n);
    assert.deepEqual(new Uint8Array(zlib.inflateSync(wasmCodec.zlibCompress(data))), data);
    assert.deepEqual(wasmCodec.zlibDecompress(zlib.deflateSync(data), n), data);
  }
});

test("zstd interoperates with Node 22's zlib.zstdDecompressSync / zstdCompressSync", { timeout: 30_000 }, () => {
  const z = zlib as unknown as Zstd;
  assert.equal(typeof z.zstdDecompressSync, "function", `Node ${process.version} lacks zstd`);
  for (const n of SIZES) {
    const data = sample(n);
    assert.deepEqual(new Uint8Array(z.zstdDecompressSync(wasmCodec.zstdCompress(data))), data);
    assert.deepEqual(wasmCodec.zstdDecompress(z.zstdCompressSync(data), n), data);
  }
});

test("ECDH + HKDF + AES-GCM interoperate with Node's WebCrypto", { timeout: 30_000 }, async () => {
  const ours = wasmCodec.generateKeyPair();
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const theirPublic = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const peer = await crypto.subtle.importKey("raw", bs(ours.publicKey), { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, pair.privateKey, 256);
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const info = new TextEncoder().encode("wse-encryption/aes-gcm-key");
  const raw = new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: bs(info) }, ikm, 256));
  const key = ours.deriveKey(theirPublic);
  const message = sample(5000);
  const body = key.encrypt(message);
  const aes = await crypto.subtle.importKey("raw", bs(raw), "AES-GCM", false, ["decrypt", "encrypt"]);
  const opened = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: bs(body.subarray(0, 12)) }, aes, bs(body.subarray(12))));
  assert.deepEqual(opened, message);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, bs(message)));
  const theirs = new Uint8Array(12 + sealed.length);
  theirs.set(iv, 0);
  theirs.set(sealed, 12);
  assert.deepEqual(key.decrypt(theirs), message);
});
