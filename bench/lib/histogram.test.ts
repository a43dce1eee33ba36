import { expect, test } from "bun:test";
import { Histogram } from "./histogram.ts";

test("percentiles are within 1 % and merging equals recording", () => {
  const a = new Histogram();
  const b = new Histogram();
  const all = new Histogram();
  for (let i = 1; i <= 1000; i++) {
    const ms = i / 100;
    (i % 2 ? a : b).record(ms);
    all.record(ms);
  }
  a.merge(b.toJSON());
  expect(a.count).toBe(1000);
  expect(a.percentile(50)).toBeCloseTo(all.percentile(50), 9);
  expect(Math.abs(all.percentile(50) - 5) / 5).toBeLessThan(0.01);
  expect(Math.abs(all.percentile(99) - 9.9) / 9.9).toBeLessThan(0.01);
  expect(all.max).toBe(10);
});

test("an empty histogram reports zeros", () => {
  const h = new Histogram();
  expect(h.percentile(99)).toBe(0);
  expect(h.mean).toBe(0);
});

test("serialized form is sparse and survives a round trip; huge values land in the last bucket", () => {
  const h = new Histogram();
  h.record(0.0001);
  h.record(12.5);
  h.record(1e12);
  const data = h.toJSON();
  expect(Object.keys(data.buckets)).toHaveLength(3);
  const copy = new Histogram();
  copy.merge(data);
  expect(copy.count).toBe(3);
  expect(copy.percentile(50)).toBe(h.percentile(50));
  expect(Math.abs(copy.percentile(50) - 12.5) / 12.5).toBeLessThan(0.01);
  expect(copy.max).toBe(1e12);
  expect(() => copy.merge({ buckets: { x: 1 }, count: 1, sum: 0, max: 0 })).toThrow();
});
