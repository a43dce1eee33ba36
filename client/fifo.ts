/**
 * A first-in first-out queue on a growable ring buffer: `push` and `shift` are O(1) at any
 * length. (`Array.prototype.shift` is O(n) in V8 once an array is large enough to live in
 * large-object space — tens of thousands of elements — which made a backed-up event queue
 * quadratic in Deno and Node.)
 *
 * @example
 * ```ts
 * import { Fifo } from "./fifo.ts";
 * const q = new Fifo<number>();
 * q.push(1);
 * q.push(2);
 * q.shift(); // 1
 * q.length; // 1
 * ```
 * @module
 */

const INITIAL_SLOTS = 16;

/** A FIFO queue with O(1) `push` and `shift`. */
export class Fifo<T> {
  #slots: Array<T | undefined> = new Array(INITIAL_SLOTS).fill(undefined);
  /** Index of the oldest item. */
  #head = 0;
  #length = 0;

  /** Items held. */
  get length(): number {
    return this.#length;
  }

  /** Appends an item at the tail. */
  push(item: T): void {
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & (this.#slots.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#slots.length - 1);
    this.#length--;
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.#slots = new Array(INITIAL_SLOTS).fill(undefined);
    this.#head = 0;
    this.#length = 0;
  }

  /** Doubles the slots, unwrapping the items to start at index 0 (capacity stays a power of two). */
  #grow(): void {
    const old = this.#slots;
    const slots: Array<T | undefined> = new Array(old.length * 2).fill(undefined);
    for (let i = 0; i < this.#length; i++) slots[i] = old[(this.#head + i) & (old.length - 1)];
    this.#slots = slots;
    this.#head = 0;
  }
}
