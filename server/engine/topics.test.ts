import { expect, test } from "bun:test";
import { isValidTopic, topicProblem } from "./topics.ts";

test("topic names: 1–256 UTF-8 bytes, no control characters", () => {
  expect(isValidTopic("prices")).toBe(true);
  expect(isValidTopic("a:b/c.d-é")).toBe(true);
  expect(isValidTopic("t".repeat(256))).toBe(true);
  expect(topicProblem("t".repeat(257))).toContain("256");
  expect(topicProblem("é".repeat(129))).toContain("256"); // 258 bytes
  expect(topicProblem("")).toBe("topic is empty");
  expect(topicProblem("a\u0000b")).toContain("control");
  expect(topicProblem("a\nb")).toContain("control");
  expect(topicProblem(42)).toContain("string");
});
