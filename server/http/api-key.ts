/**
 * Bearer key checks for `/api/*` (the API key) and `/metrics` (the metrics token), in constant
 * time: the comparison always walks a fixed span of at least `COMPARE_SPAN` characters (longer
 * only for a longer configured key, or for a longer presented key, which the caller chose), and
 * has no early exit, so the time taken reveals neither the configured key's content nor its length.
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

/** Constant-time equality of two strings over `max(COMPARE_SPAN, a.length, b.length)` characters. */
export function constantTimeEquals(a: string, b: string): boolean {
  const span = Math.max(COMPARE_SPAN, a.length, b.length);
  let diff = a.length ^ b.length;
  // charCodeAt past the end is NaN, and NaN | 0 is 0: both strings read as zero-padded to `span`.
  for (let i = 0; i < span; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/** A check of presented keys against one configured key; a `null` key (no or malformed header) never matches. */
export function createKeyCheck(configured: string): (presented: string | null) => boolean {
  return (presented) => presented !== null && constantTimeEquals(presented, configured);
}

/** The key in `Authorization: Bearer <key>`, or `null`. */
export function bearerKey(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1]! : null;
}
