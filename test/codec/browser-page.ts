/**
 * Entry of the browser bundle used by `browser.test.ts`: imports the codec facade exactly as a
 * web client would, round-trips compression and encryption, checks E: bodies against the
 * browser's own WebCrypto in both directions, and publishes the outcome on `window`.
 * @module
 */
import { createSequencer, decodeFrame, defaultCodec, encodeFrame, wasmCodec } from "../../wasm/mod.ts";

/** What the page reports back to the test. */
export interface BrowserResult {
  ok: boolean;
  checks: string[];
  error?: string;
}

const utf8 = new TextEncoder();
/** Types a byte view as WebCrypto input (TS 5.9 distinguishes ArrayBufferLike). */
const bs = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;


function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function run(): Promise<string[]> {
  const checks: string[] = [];
  const expect = (name: string, condition: boolean) => {
    if (!condition) throw new Error(`check failed: ${name}`);
    checks.push(name);
  };
  expect("defaultCodec is wasm in a browser", defaultCodec.backend === "wasm");
  const text = JSON.stringify({ c: "U", t: "price_update", p: { rows: Array.from({ length: 200 }, (_, i) => i) } });
  const data = utf8.encode(text);
  expect("zlib round trip", equal(wasmCodec.zlibDecompress(wasmCodec.zlibCompress(data), 1 << 20), data));
  expect("zstd round trip", equal(wasmCodec.zstdDecompress(wasmCodec.zstdCompress(data), 1 << 20), data));

  const ours = wasmCodec.generateKeyPair();
  const theirs = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const theirPublic = new Uint8Array(await crypto.subtle.exportKey("raw", theirs.publicKey));
  const ourKey = ours.deriveKey(theirPublic);
  const peer = await crypto.subtle.importKey("raw", bs(ours.publicKey), { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, theirs.privateKey, 256);
  const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const webKey = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: bs(utf8.encode("wse-encryption/aes-gcm-key")) },
    hkdf,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );

  for (const compression of ["none", "zlib", "zstd"] as const) {
    const wire = encodeFrame(text, wasmCodec, { compression, key: ourKey }) as Uint8Array;
    const body = wire.subarray(2);
    const inner = new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: bs(body.subarray(0, 12)) }, webKey, bs(body.subarray(12))),
    );
    expect(`E:+${compression} decodes with wasm`, decodeFrame(wire, wasmCodec, { key: ourKey }).text === text);
    expect(`E:+${compression} decrypts with WebCrypto`, decodeFrame(inner, wasmCodec).text === text);
  }
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, webKey, bs(data)));
  const body = new Uint8Array(12 + sealed.length);
  body.set(iv, 0);
  body.set(sealed, 12);
  expect("WebCrypto AES-GCM decrypts with wasm", equal(ourKey.decrypt(body), data));
  let typed = false;
  try {
    ourKey.decrypt(body.subarray(0, body.length - 1));
  } catch (error) {
    typed = (error as { code?: string }).code === "DECRYPT_FAILED";
  }
  expect("tampered body is DECRYPT_FAILED", typed);
  expect("instance usable after an error", equal(ourKey.decrypt(body), data));
  expect("sequencer works", createSequencer().check("t", "0000beef", 0) === "deliver");
  return checks;
}

const target = globalThis as unknown as { __codecResult?: BrowserResult };
run().then(
  (checks) => {
    target.__codecResult = { ok: true, checks };
  },
  (error: unknown) => {
    target.__codecResult = { ok: false, checks: [], error: String((error as Error)?.stack ?? error) };
  },
);
