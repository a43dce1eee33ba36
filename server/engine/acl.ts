/**
 * The per-connection topic ACL carried by the optional JWT claim
 * `wse_topics: {"allow": [globs], "deny": [globs]}` (PROTOCOL.md §1).
 *
 * Globs: `*` matches any run of characters (also empty, also `.` and `/`), `?` matches exactly
 * one character; everything else matches itself. Deny wins over allow; an empty or missing
 * allow list allows every topic. Matching is linear in pattern × topic length (no regular
 * expressions, so hostile globs cannot cause catastrophic backtracking).
 *
 * @example
 * ```ts
 * const acl = compileAcl({ allow: ["prices.*"], deny: ["prices.secret"] });
 * acl.allows("prices.eur"); // true
 * acl.allows("prices.secret"); // false
 * ```
 *
 * @module
 */

/** A compiled topic ACL. */
export interface TopicAcl {
  /** True when the topic may be subscribed, recovered or published to. */
  allows(topic: string): boolean;
  /** The allow globs (empty = all topics). */
  readonly allow: readonly string[];
  /** The deny globs. */
  readonly deny: readonly string[];
}

/** Thrown by `compileAcl` when the claim has the wrong shape. */
export class AclError extends Error {
  /** Creates the error with a message naming the offending part of the claim. */
  constructor(message: string) {
    super(message);
    this.name = "AclError";
  }
}

/** Most globs one list may hold; a token is at most 8 KiB anyway. */
export const MAX_ACL_GLOBS = 1024;
/** Longest glob accepted (a topic name is at most 256 bytes; `*` makes a glob shorter). */
export const MAX_GLOB_LENGTH = 1024;

/** An ACL that allows every topic (for callers that prefer an object to `null`). */
export const ALLOW_ALL: TopicAcl = Object.freeze({
  allows: (_topic: string) => true,
  allow: Object.freeze([]) as readonly string[],
  deny: Object.freeze([]) as readonly string[],
});

/**
 * Compiles the `wse_topics` claim. `undefined`/`null` → `null` (no restriction). Anything that is not an object
 * with optional string-array `allow`/`deny` members throws `AclError` (fail closed: a token whose
 * ACL cannot be read must not grant everything).
 */
export function compileAcl(claim: unknown): TopicAcl | null {
  if (claim === undefined || claim === null) return null;
  if (typeof claim !== "object" || Array.isArray(claim)) {
    throw new AclError("wse_topics must be an object with allow/deny arrays");
  }
  const record = claim as Record<string, unknown>;
  const allow = readGlobList(record.allow, "allow");
  const deny = readGlobList(record.deny, "deny");
  const allowMatchers = allow.map(compileGlob);
  const denyMatchers = deny.map(compileGlob);
  return Object.freeze({
    allow: Object.freeze(allow),
    deny: Object.freeze(deny),
    allows(topic: string): boolean {
      const chars = Array.from(topic);
      for (const matches of denyMatchers) if (matches(chars)) return false;
      if (allowMatchers.length === 0) return true;
      for (const matches of allowMatchers) if (matches(chars)) return true;
      return false;
    },
  });
}

/** True when `topic` matches the glob (`*` any run, `?` one character). */
export function globMatches(glob: string, topic: string): boolean {
  return compileGlob(glob)(Array.from(topic));
}

function readGlobList(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new AclError(`wse_topics.${name} must be an array of strings`);
  if (value.length > MAX_ACL_GLOBS) throw new AclError(`wse_topics.${name} has more than ${MAX_ACL_GLOBS} globs`);
  for (const glob of value) {
    if (typeof glob !== "string") throw new AclError(`wse_topics.${name} must contain only strings`);
    if (glob.length > MAX_GLOB_LENGTH) throw new AclError(`wse_topics.${name} has a glob longer than ${MAX_GLOB_LENGTH}`);
  }
  return [...value] as string[];
}

type Matcher = (topic: string[]) => boolean;

function compileGlob(glob: string): Matcher {
  const pattern = Array.from(glob);
  if (!pattern.includes("*") && !pattern.includes("?")) {
    return (topic) => topic.length === pattern.length && topic.join("") === glob;
  }
  return (topic) => matchGlob(pattern, topic);
}

/** Greedy glob matching with single-star backtracking: O(pattern × topic) worst case. */
function matchGlob(pattern: string[], topic: string[]): boolean {
  let p = 0;
  let t = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (t < topic.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === topic[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      starAt = p++;
      resumeAt = t;
    } else if (starAt >= 0) {
      p = starAt + 1;
      t = ++resumeAt;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}
