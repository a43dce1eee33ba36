/**
 * Turns scenario reports into the SVG charts the README shows: deliveries/s against subscribers
 * for every system, and latency percentiles per load level.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import type { ScenarioReport } from "./scenario.ts";
import { barChart, lineChart, type BarGroup, type Series } from "./svg.ts";

interface PointLike {
  subscribers: number;
  throughput?: { median: number };
  latency?: { load: number; p50: number; p99: number }[];
}

/** Writes the charts that the reports have data for; returns the file names written. */
export function writeCharts(reports: ScenarioReport[], outDir: string): string[] {
  const written: string[] = [];
  const fanout = reports.find((r) => r.name === "fanout");
  const results = (fanout?.data.results ?? {}) as Record<string, PointLike[] | { skipped: string }>;
  const series: Series[] = [];
  const groups = new Map<string, BarGroup>();
  for (const [system, points] of Object.entries(results)) {
    if (!Array.isArray(points)) continue;
    const xy = points.filter((p) => p.throughput).map((p) => [p.subscribers, p.throughput!.median] as [number, number]);
    if (xy.length) series.push({ name: system, points: xy });
    for (const point of points) {
      for (const l of point.latency ?? []) {
        const label = `${Math.round(l.load * 100)} % load`;
        const group = groups.get(label) ?? { label, bars: [] };
        group.bars.push({ name: `${system} p50`, value: l.p50 }, { name: `${system} p99`, value: l.p99 });
        groups.set(label, group);
      }
    }
  }
  if (series.length) {
    writeFileSync(
      `${outDir}/fanout-deliveries.svg`,
      lineChart({ title: "Fan-out deliveries/s vs subscribers (one topic, recovery on)", xLabel: "subscribers (log scale)", yLabel: "deliveries / s", logX: true, series }),
    );
    written.push("fanout-deliveries.svg");
  }
  if (groups.size) {
    writeFileSync(
      `${outDir}/fanout-latency.svg`,
      barChart({ title: `Publish→receive latency p50/p99, ${Number(fanout?.data.latencyAt ?? 0).toLocaleString("en-US")} subscribers (ms)`, yLabel: "ms", groups: [...groups.values()] }),
    );
    written.push("fanout-latency.svg");
  }
  const variants = reports.find((r) => r.name === "variants");
  const variantRows = (variants?.data.rows ?? []) as { variant: string; system: string; median: number }[];
  if (variantRows.length) {
    const byVariant = new Map<string, BarGroup>();
    for (const row of variantRows) {
      const group = byVariant.get(row.variant) ?? { label: row.variant, bars: [] };
      group.bars.push({ name: row.system, value: row.median });
      byVariant.set(row.variant, group);
    }
    writeFileSync(
      `${outDir}/variants-deliveries.svg`,
      barChart({ title: "Deliveries/s by feature set", yLabel: "deliveries / s", groups: [...byVariant.values()] }),
    );
    written.push("variants-deliveries.svg");
  }
  return written;
}
