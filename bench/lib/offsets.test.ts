import { expect, test } from "bun:test";
import { DeliveryStats, TopicTracker } from "./offsets.ts";

test("in-order, duplicate and gap positions are counted", () => {
  const stats = new DeliveryStats();
  const tracker = new TopicTracker();
  tracker.baseline(4);
  expect(tracker.observe(5, stats)).toBe("deliver");
  expect(tracker.observe(5, stats)).toBe("duplicate");
  expect(tracker.observe(3, stats)).toBe("duplicate");
  expect(tracker.observe(9, stats)).toBe("gap");
  expect(tracker.observe(10, stats)).toBe("deliver");
  expect(stats.toJSON()).toMatchObject({ deliveries: 3, duplicates: 2, lost: 3, gaps: 1 });
});

test("without a baseline the first position starts the stream", () => {
  const stats = new DeliveryStats();
  const tracker = new TopicTracker();
  expect(tracker.observe(17, stats)).toBe("deliver");
  expect(tracker.observe(18, stats)).toBe("deliver");
  expect(stats.lost).toBe(0);
});
