/**
 * Cross-checks on Deno: Deno's node:zlib (zlib and zstd) and Deno's WebCrypto against the
 * WASM codec, in both directions.
 */
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import { wasmCodec } from "../../wasm/mod.ts";
import { sample } from "./facade-cases.ts";

// Typed locally so the project's tsc (Bun types) checks this file too; at run time it is Deno's.
declare const Deno: {
  test(definition: { name: string; sanitizeOps: boolean; sanitizeResources: boolean; fn: () => void | Promise<void> }): void;
};

const SIZES = [0, 1, 100, 1024, 16 * 1024, 256 * 1024];
const bs = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;
type Zstd = { zstdCompressSync(d: Uint8Array): Uint8Array; zstdDecompressSync(d: Uint8Array): Uint8Array };
const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...options,
  name: "zlib interoperates with Deno's node:zlib",
  fn: () => {
    for (const n of SIZES) {
      const data = sample(n);
      assert.deepEqual(new Uint8Array(zlib.inflateSync(wasmCodec.zlibCompress(data))), data);
      assert.deepEqual(wasmCodec.zlibDecompress(zlib.deflateSync(data), n), data);
    }
  },
});

Deno.test({
  ...options,
  name: "zstd interoperates with Deno's node:zlib zstd",
  fn: () => {
    const z = zlib as unknown as Zstd;
    assert.equal(typeof z.zstdDecompressSync, "function");
    for (const n of SIZES) {
      const data = sample(n);
      assert.deepEqual(new Uint8Array(z.zstdDecompressSync(wasmCodec.zstdCompress(data))), data);
      assert.deepEqual(wasmCodec.zstdDecompress(z.zstdCompressSync(data), n), data);
    }
  },
});

Deno.test({
  ...options,
  name: "ECDH + HKDF + AES-GCM interoperate with Deno's WebCrypto",
  fn: async () => {
    const ours = wasmCodec.generateKeyPair();
    const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const theirPublic = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const peer = await crypto.subtle.importKey("raw", bs(ours.publicKey), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, pair.privateKey, 256);
    const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
    const info = bs(new TextEncoder().encode("wse-encryption/aes-gcm-key"));
    const raw = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info }, ikm, 256);
    const aes = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt", "encrypt"]);
    const key = ours.deriveKey(theirPublic);
    const message = sample(5000);
    const body = key.encrypt(message);
    const opened = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bs(body.subarray(0, 12)) }, aes, bs(body.subarray(12)));
    assert.deepEqual(new Uint8Array(opened), message);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, message));
    const theirs = new Uint8Array(12 + sealed.length);
    theirs.set(iv, 0);
    theirs.set(sealed, 12);
    assert.deepEqual(key.decrypt(theirs), message);
  },
});
