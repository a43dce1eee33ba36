/**
 * Bearer key checks for `/api/*` (the API key) and `/metrics` (the metrics token), in constant
 * time: the comparison always walks a fixed span of `COMPARE_SPAN` characters (more only for a
 * configured key longer than that) and has no early exit, so the time taken reveals neither the
 * configured key's content nor its length.
 *
 * @example
 * ```ts
 * const matches = createKeyCheck("the-configured-key");
 * matches(bearerKey(request.headers.get("authorization"))); // true or false
 * ```
 *
 * @module
 */

/** Characters every comparison walks at least. */
export const COMPARE_SPAN = 256;

/**
 * A check of presented keys against one configured key; a `null` key (no or malformed header)
 * never matches. The configured key is kept zero-padded to the span, so the loop reads it
 * without a branch; the presented key is read up to its own length (which its sender chose).
 */
export function createKeyCheck(configured: string): (presented: string | null) => boolean {
  const span = Math.max(COMPARE_SPAN, configured.length);
  const expected = new Uint16Array(span);
  for (let i = 0; i < configured.length; i++) expected[i] = configured.charCodeAt(i);
  const expectedLength = configured.length;
  return (presented) => {
    if (presented === null) return false;
    const length = presented.length;
    // A presented key longer than the span differs in length, which alone makes it a mismatch.
    let diff = length ^ expectedLength;
    for (let i = 0; i < span; i++) diff |= expected[i]! ^ (i < length ? presented.charCodeAt(i) : 0);
    return diff === 0;
  };
}

/** Constant-time equality of two strings (`b` plays the configured key; see `createKeyCheck`). */
export function constantTimeEquals(a: string, b: string): boolean {
  return createKeyCheck(b)(a);
}

/** The key in `Authorization: Bearer <key>`, or `null`. */
export function bearerKey(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1]! : null;
}
