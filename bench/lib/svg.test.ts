import { expect, test } from "bun:test";
import { barChart, lineChart, niceTicks, shortNumber } from "./svg.ts";

test("charts are well-formed SVG with every series named", () => {
  const line = lineChart({ title: "t <&>", xLabel: "x", yLabel: "y", logX: true, series: [{ name: "a", points: [[100, 5e5], [1000, 4e5]] }, { name: "b", points: [[100, 1e5]] }] });
  expect(line.startsWith("<svg")).toBe(true);
  expect(line).toContain("t &lt;&amp;&gt;");
  expect(line).toContain(">a<");
  expect(line).toContain(">b<");
  expect(line).not.toContain("NaN");
  const bars = barChart({ title: "b", yLabel: "ms", groups: [{ label: "25 %", bars: [{ name: "x", value: 1.5 }, { name: "y", value: NaN }] }] });
  expect(bars).toContain("<rect");
  expect(bars).not.toContain("NaN");
});

test("ticks and labels", () => {
  expect(niceTicks(950)).toEqual([0, 200, 400, 600, 800, 1000]);
  expect(shortNumber(1_250_000)).toBe("1.25M");
  expect(shortNumber(350_000)).toBe("350k");
});
