/**
 * Topic name rules (PROTOCOL.md §3): 1–256 bytes of UTF-8, no control characters.
 *
 * @module
 */

/** Longest topic name in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 256;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const utf8 = new TextEncoder();

/** Returns null for a valid topic name, otherwise why it is invalid. */
export function topicProblem(topic: unknown): string | null {
  if (typeof topic !== "string") return "topic must be a string";
  if (topic.length === 0) return "topic is empty";
  // A UTF-16 unit is at most 3 UTF-8 bytes: short names need no encoding to check.
  if (topic.length > MAX_TOPIC_BYTES || (topic.length * 3 > MAX_TOPIC_BYTES && utf8.encode(topic).length > MAX_TOPIC_BYTES)) {
    return `topic exceeds ${MAX_TOPIC_BYTES} bytes`;
  }
  if (CONTROL.test(topic)) return "topic contains control characters";
  return null;
}

/** True when `topic` is a valid topic name. */
export function isValidTopic(topic: unknown): topic is string {
  return topicProblem(topic) === null;
}
