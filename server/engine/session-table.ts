/**
 * The engine's live sessions by connection id, without a hash-table entry per connection: an id
 * the table hands out (`reserveId`) is 16 random base64url characters (96 bits), a dot and the
 * base-36 index of a slot reserved for it, so finding a session is an array read and a string
 * comparison. Ids that do not name a free slot (made elsewhere, e.g. by tests, or a slot handed
 * out twice) are kept in a Map instead; lookups answer the same either way. Slots are never
 * handed to two live sessions: a taken slot sends the newcomer to the Map.
 *
 * @module
 */

/** What the table needs of a session. */
export interface TableEntry {
  /** The id the session is found by. */
  readonly connectionId: string;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const RANDOM_BYTES = 12;
const POOL_IDS = 64;

/** Live sessions by connection id (a slot array, plus a Map for ids that name no free slot). */
export class SessionTable<S extends TableEntry> {
  readonly #slots: Array<S | null> = [];
  /** Slots given back and not reserved again. */
  readonly #free: number[] = [];
  readonly #others = new Map<string, S>();
  #size = 0;
  readonly #pool = new Uint8Array(RANDOM_BYTES * POOL_IDS);
  #poolUsed = POOL_IDS;
  readonly #codes: number[] = [];

  /** Number of sessions. */
  get size(): number {
    return this.#size;
  }

  /**
   * A fresh connection id with a slot reserved for it: pass it to `add` with the session, or to
   * `release` when no session is made for it. (An id whose session never comes only costs its
   * slot, 8 bytes.)
   */
  reserveId(): string {
    let slot = this.#free.pop();
    // A slot taken by an id made elsewhere is skipped (it is handed out again once freed).
    while (slot !== undefined && this.#slots[slot] !== null) slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#slots.length;
      this.#slots.push(null);
    }
    return this.#newId(slot);
  }

  /** Gives back the slot of a reserved id no session was made for. */
  release(connectionId: string): void {
    const slot = slotOf(connectionId, this.#slots.length);
    if (slot >= 0 && this.#slots[slot] === null) this.#free.push(slot);
  }

  /** Adds a session; false (and nothing changes) when a session with its id is already here. */
  add(session: S): boolean {
    const id = session.connectionId;
    if (this.get(id) !== undefined) return false;
    const slot = slotOf(id, this.#slots.length);
    if (slot >= 0 && this.#slots[slot] === null) {
      // (An id made elsewhere may name a slot still on the free list: `reserveId` skips taken slots.)
      this.#slots[slot] = session;
    } else {
      this.#others.set(id, session);
    }
    this.#size++;
    return true;
  }

  /** The session with this id, if any. */
  get(connectionId: string): S | undefined {
    const slot = slotOf(connectionId, this.#slots.length);
    if (slot >= 0) {
      const s = this.#slots[slot];
      if (s && s.connectionId === connectionId) return s;
    }
    return this.#others.get(connectionId);
  }

  /** Removes this very session; false when it is not in the table. */
  delete(session: S): boolean {
    const id = session.connectionId;
    const slot = slotOf(id, this.#slots.length);
    if (slot >= 0 && this.#slots[slot] === session) {
      this.#slots[slot] = null;
      this.#free.push(slot);
    } else if (this.#others.get(id) === session) {
      this.#others.delete(id);
    } else {
      return false;
    }
    this.#size--;
    return true;
  }

  /**
   * Calls `visit` for every session, like `values()` but several times faster than a generator
   * (the engine's timers walk every session: idle sweep, pings, broadcast counts).
   */
  forEach(visit: (session: S) => void): void {
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (s) visit(s);
    }
    if (this.#others.size > 0) for (const s of [...this.#others.values()]) if (this.#others.get(s.connectionId) === s) visit(s);
  }

  /** Every session (slot order, then the others); sessions added or removed meanwhile may or may not be seen. */
  *values(): Generator<S, void, undefined> {
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (s) yield s;
    }
    yield* this.#others.values();
  }

  /**
   * 16 base64url characters from 12 random bytes (drawn 64 ids at a time), a dot and the slot in
   * base 36, made as one flat string (concatenation would leave rope cells behind per id).
   */
  #newId(slot: number): string {
    if (this.#poolUsed === POOL_IDS) {
      crypto.getRandomValues(this.#pool);
      this.#poolUsed = 0;
    }
    const p = this.#pool;
    const codes = this.#codes;
    codes.length = 0;
    for (let i = this.#poolUsed++ * RANDOM_BYTES, end = i + RANDOM_BYTES; i < end; i += 3) {
      const n = (p[i]! << 16) | (p[i + 1]! << 8) | p[i + 2]!;
      codes.push(ALPHABET.charCodeAt(n >>> 18), ALPHABET.charCodeAt((n >>> 12) & 63), ALPHABET.charCodeAt((n >>> 6) & 63), ALPHABET.charCodeAt(n & 63));
    }
    codes.push(46); // "."
    const digits = slot.toString(36);
    for (let i = 0; i < digits.length; i++) codes.push(digits.charCodeAt(i));
    return String.fromCharCode.apply(null, codes);
  }
}

/** The slot an id names (base 36 after its last dot, below `limit`), or -1. */
function slotOf(id: string, limit: number): number {
  const dot = id.lastIndexOf(".");
  if (dot < 0 || dot === id.length - 1 || id.length - dot > 8) return -1;
  let slot = 0;
  for (let i = dot + 1; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
    if (digit < 0) return -1;
    slot = slot * 36 + digit;
  }
  return slot < limit ? slot : -1;
}
