import { describe, expect, test } from "bun:test";
import type { ScenarioReport } from "./scenario.ts";
import { evaluateTargets } from "./targets.ts";

function connections(points: { connections: number; kb: number }[]): ScenarioReport {
  const memory = points.map((p) => ({ connections: p.connections, bytesPerConnection: p.kb * 1024 }));
  return { name: "connections", title: "connections", tables: [], data: { results: { ours: { memory } } } } as unknown as ScenarioReport;
}

function memoryTarget(report: ScenarioReport) {
  return evaluateTargets([report]).find((t) => t.target.startsWith("≤ 4 KB"))!;
}

describe("memory target", () => {
  test("is judged at 10,000 connections and up, smaller counts are shown only", () => {
    const target = memoryTarget(connections([{ connections: 2000, kb: 4.2 }, { connections: 10_000, kb: 2.6 }]));
    expect(target.status).toBe("met");
    expect(target.measured).toBe("4.2 KB @2000, 2.6 KB @10000");
  });

  test("is not met when a judged count is over 4 KB", () => {
    expect(memoryTarget(connections([{ connections: 10_000, kb: 3.9 }, { connections: 50_000, kb: 4.1 }])).status).toBe("not met");
  });

  test("is not measured with only small counts", () => {
    expect(memoryTarget(connections([{ connections: 2000, kb: 3 }])).status).toBe("not measured");
  });
});
