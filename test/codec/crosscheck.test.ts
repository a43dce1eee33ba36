/**
 * Independent cross-checks of the WASM codec against other implementations, in both
 * directions: node:zlib and Python's zlib (RFC 1950), Bun's and node:zlib's zstd, WebCrypto
 * (ECDH P-256, HKDF-SHA256, AES-256-GCM) and Python's `cryptography` (from .venv).
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { keyPairFromSecret, wasmCodec } from "../../wasm/mod.ts";
import { sample } from "./facade-cases.ts";

const MiB = 1 << 20;
const SIZES = [0, 1, 100, 1024, 16 * 1024, 256 * 1024];
const PYTHON = join(import.meta.dir, "../../.venv/bin/python");
const PEER = join(import.meta.dir, "crypto_peer.py");
const utf8 = new TextEncoder();
/** Types a byte view as WebCrypto input (TS 5.9 distinguishes ArrayBufferLike). */
const bs = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;


const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
const hex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));

function python(request: object): any {
  const run = Bun.spawnSync([existsSync(PYTHON) ? PYTHON : "python3", PEER], {
    stdin: Buffer.from(JSON.stringify(request)),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  if (run.exitCode !== 0) throw new Error(`crypto_peer.py failed: ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString());
}

async function webKeyPair(): Promise<{ pair: CryptoKeyPair; publicKey: Uint8Array }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  return { pair, publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)) };
}

/** WebCrypto's ECDH + HKDF-SHA256 (salt 32 zero bytes, the WSE info) → 32 raw key bytes. */
async function webDerive(privateKey: CryptoKey, peerPublic: Uint8Array): Promise<Uint8Array> {
  const peer = await crypto.subtle.importKey("raw", bs(peerPublic), { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, privateKey, 256);
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const info = utf8.encode("wse-encryption/aes-gcm-key");
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: bs(info) }, ikm, 256));
}

async function webOpen(raw: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", bs(raw), "AES-GCM", false, ["decrypt"]);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: bs(body.subarray(0, 12)) }, key, bs(body.subarray(12))));
}

async function webSeal(raw: Uint8Array, plain: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", bs(raw), "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, bs(plain)));
  const body = new Uint8Array(12 + sealed.length);
  body.set(iv, 0);
  body.set(sealed, 12);
  return body;
}

describe("zlib", () => {
  test("our output inflates with node:zlib, and node:zlib output inflates with ours", () => {
    for (const n of SIZES) {
      const data = sample(n);
      for (const level of [0, 1, 6, 9]) {
        expect(new Uint8Array(zlib.inflateSync(wasmCodec.zlibCompress(data, level)))).toEqual(data);
        expect(wasmCodec.zlibDecompress(zlib.deflateSync(data, { level }), n)).toEqual(data);
      }
    }
  });

  test("our output inflates with Python's zlib, and Python's output inflates with ours", () => {
    const inputs = SIZES.map(sample);
    const inflated: string[] = python({ op: "inflate", data: inputs.map((d) => b64(wasmCodec.zlibCompress(d))) }).out;
    expect(inflated.map(unb64)).toEqual(inputs);
    const deflated: string[] = python({ op: "deflate", data: inputs.map(b64) }).out;
    expect(deflated.length).toBe(inputs.length * 3);
    deflated.forEach((z, i) => expect(wasmCodec.zlibDecompress(unb64(z), MiB)).toEqual(inputs[Math.floor(i / 3)]!));
  });
});

describe("zstd", () => {
  test("our frames decode with Bun.zstdDecompressSync, and Bun's frames with ours", () => {
    for (const n of SIZES) {
      const data = sample(n);
      for (const level of [-5, 1, 3, 19]) {
        expect(new Uint8Array(Bun.zstdDecompressSync(wasmCodec.zstdCompress(data, level)))).toEqual(data);
      }
      for (const level of [1, 3, 19]) expect(wasmCodec.zstdDecompress(Bun.zstdCompressSync(data, { level }), n)).toEqual(data);
    }
  });

  test("our frames decode with node:zlib zstdDecompressSync, and its frames with ours", () => {
    const z = zlib as unknown as { zstdDecompressSync(d: Uint8Array): Uint8Array; zstdCompressSync(d: Uint8Array): Uint8Array };
    for (const n of SIZES) {
      const data = sample(n);
      expect(new Uint8Array(z.zstdDecompressSync(wasmCodec.zstdCompress(data)))).toEqual(data);
      expect(wasmCodec.zstdDecompress(z.zstdCompressSync(data), n)).toEqual(data);
    }
  });
});

describe("encryption vs WebCrypto", () => {
  test("ECDH + HKDF give the same key as WebCrypto, in both roles", async () => {
    for (let round = 0; round < 5; round++) {
      const ours = wasmCodec.generateKeyPair();
      const theirs = await webKeyPair();
      const ourKey = ours.deriveKey(theirs.publicKey);
      const webRaw = await webDerive(theirs.pair.privateKey, ours.publicKey);
      const message = sample(100 + round * 1000);
      expect(await webOpen(webRaw, ourKey.encrypt(message))).toEqual(message);
      expect(ourKey.decrypt(await webSeal(webRaw, message))).toEqual(message);
      expect(wasmCodec.importKey(webRaw).decrypt(ourKey.encrypt(message))).toEqual(message);
    }
  });

  test("a fixed NIST P-256 vector derives the WebCrypto key", async () => {
    const d = "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534";
    const qx = "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230";
    const qy = "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141";
    const peer = hex(
      "04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
    );
    const ours = keyPairFromSecret(hex(d));
    expect(Buffer.from(ours.publicKey).toString("hex")).toBe(`04${qx}${qy}`);
    const b64url = (h: string) => Buffer.from(h, "hex").toString("base64url");
    const privateKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", d: b64url(d), x: b64url(qx), y: b64url(qy), ext: true },
      { name: "ECDH", namedCurve: "P-256" },
      false,
      ["deriveBits"],
    );
    const webRaw = await webDerive(privateKey, peer);
    const message = utf8.encode('{"t":"vector"}');
    expect(await webOpen(webRaw, ours.deriveKey(peer).encrypt(message))).toEqual(message);
  });

  test("WebCrypto rejects nothing we produce and we reject a WebCrypto body under another key", async () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const body = await webSeal(raw, sample(64));
    expect(() => wasmCodec.importKey(new Uint8Array(32)).decrypt(body)).toThrow("authentication failed");
    expect(wasmCodec.importKey(raw).decrypt(body)).toEqual(sample(64));
  });
});

describe("encryption vs Python cryptography", () => {
  test("key exchange, E: bodies both ways, same derived key", () => {
    const peer: { secret: string; public: string } = python({ op: "keypair" });
    const ours = wasmCodec.generateKeyPair();
    const key = ours.deriveKey(unb64(peer.public));
    const messages = [0, 1, 100, 1024, 16 * 1024].map(sample);
    const reply: { key: string; opened: string[]; sealed: string[] } = python({
      op: "exchange",
      secret: peer.secret,
      peer: b64(ours.publicKey),
      sealed: messages.map((m) => b64(key.encrypt(m))),
      plain: messages.map(b64),
    });
    expect(reply.opened.map(unb64)).toEqual(messages);
    expect(reply.sealed.map((s) => key.decrypt(unb64(s)))).toEqual(messages);
    expect(wasmCodec.importKey(hex(reply.key)).decrypt(key.encrypt(messages[2]!))).toEqual(messages[2]!);
  });
});
