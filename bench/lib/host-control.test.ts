import { expect, test } from "bun:test";
import { makePayload, paddingText, runPublish } from "./host-control.ts";

test("padding text is the fixed word sequence the Python host also produces", () => {
  expect(paddingText(40)).toBe("order 830 depth 967 market 980 delta 638");
  expect(paddingText(1000)).toHaveLength(1000);
  expect(paddingText(1000)).not.toMatch(/["\\]/);
});

test("payload JSON is about the requested size", () => {
  for (const size of [100, 1024]) {
    const bytes = JSON.stringify(makePayload(123456, size)).length;
    expect(Math.abs(bytes - size)).toBeLessThan(12);
  }
});

test("publish numbers publications per topic, round-robin, continuing across commands", async () => {
  const seen: [string, number][] = [];
  const sequence = new Map<string, number>();
  const host = { publish: (topic: string, payload: { n: number }) => void seen.push([topic, payload.n]) };
  await runPublish({ cmd: "publish", topics: ["a", "b"], count: 2 }, host, sequence);
  await runPublish({ cmd: "publish", topics: ["a"], count: 1, rate: 1000 }, host, sequence);
  expect(seen).toEqual([["a", 0], ["b", 0], ["a", 1], ["b", 1], ["a", 2]]);
});
