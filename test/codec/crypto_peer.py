"""Independent peer for the codec cross-checks (test/codec/crosscheck.test.ts).

Reads one JSON request on stdin, answers one JSON line on stdout. Uses only Python's zlib and
the `cryptography` package (AESGCM, ECDH on SECP256R1, HKDF-SHA256), never our code.

Requests:
  {"op": "inflate", "data": [b64...]}                      -> {"out": [b64...]}
  {"op": "deflate", "data": [b64...]}                      -> {"out": [b64...]}
  {"op": "keypair"}                                        -> {"secret": hex, "public": b64}
  {"op": "exchange", "secret": hex, "peer": b64,
   "sealed": [b64...], "plain": [b64...]}                  -> {"key": hex, "opened": [b64...],
                                                               "sealed": [b64...]}
"""
import base64
import json
import os
import sys
import zlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"wse-encryption/aes-gcm-key"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def derive(secret_hex: str, peer_b64: str) -> bytes:
    private = ec.derive_private_key(int(secret_hex, 16), ec.SECP256R1())
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(peer_b64))
    shared = private.exchange(ec.ECDH(), peer)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(shared)


def main() -> None:
    req = json.loads(sys.stdin.read())
    op = req["op"]
    if op == "inflate":
        out = [b64(zlib.decompress(unb64(d))) for d in req["data"]]
        print(json.dumps({"out": out}))
    elif op == "deflate":
        out = [b64(zlib.compress(unb64(d), level)) for d in req["data"] for level in (1, 6, 9)]
        print(json.dumps({"out": out}))
    elif op == "keypair":
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        secret = private.private_numbers().private_value.to_bytes(32, "big").hex()
        print(json.dumps({"secret": secret, "public": b64(public)}))
    elif op == "exchange":
        key = derive(req["secret"], req["peer"])
        aes = AESGCM(key)
        opened = [b64(aes.decrypt(body[:12], body[12:], None)) for body in map(unb64, req["sealed"])]
        sealed = []
        for plain in map(unb64, req["plain"]):
            iv = os.urandom(12)
            sealed.append(b64(iv + aes.encrypt(iv, plain, None)))
        print(json.dumps({"key": key.hex(), "opened": opened, "sealed": sealed}))
    else:
        raise SystemExit(f"unknown op {op}")


if __name__ == "__main__":
    main()
