import { describe, expect, test } from "bun:test";
import { Fifo } from "./fifo.ts";

describe("Fifo", () => {
  test("keeps order across growth and wrap-around", () => {
    const q = new Fifo<number>();
    const expected: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the head wraps many times while the buffer grows.
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < round % 37; i++) {
        q.push(next);
        expected.push(next++);
      }
      for (let i = 0; i < round % 23 && expected.length; i++) expect(q.shift()).toBe(expected.shift()!);
      expect(q.length).toBe(expected.length);
    }
    while (expected.length) expect(q.shift()).toBe(expected.shift()!);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  test("an empty queue shifts undefined and clear empties it", () => {
    const q = new Fifo<string>();
    expect(q.shift()).toBeUndefined();
    for (let i = 0; i < 100; i++) q.push(`x${i}`);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    q.push("after");
    expect(q.shift()).toBe("after");
  });

  test("holds falsy items", () => {
    const q = new Fifo<number | string | null>();
    q.push(0);
    q.push("");
    q.push(null);
    expect(q.length).toBe(3);
    expect(q.shift()).toBe(0);
    expect(q.shift()).toBe("");
    expect(q.shift()).toBeNull();
    expect(q.length).toBe(0);
  });

  test("a large backlog drains in order", () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 100_000; i++) q.push(i);
    let ok = true;
    for (let i = 0; i < 100_000; i++) if (q.shift() !== i) ok = false;
    expect(ok).toBe(true);
    expect(q.length).toBe(0);
  });
});
