/**
 * Bearer API key check for `/api/*`: the presented key and the configured key are both hashed
 * with SHA-256 and the digests compared in constant time, so neither the key's content nor its
 * length leaks through timing.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Constant-time equality of two strings (compares SHA-256 digests). */
export async function constantTimeEquals(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** The key in `Authorization: Bearer <key>`, or `null`. */
export function bearerKey(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1]! : null;
}
