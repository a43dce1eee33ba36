/**
 * A small SVG chart writer for the benchmark results: a line chart (optionally log-scaled x)
 * and a grouped bar chart, with axes, ticks, a legend and a title. No dependencies; the output
 * is a standalone SVG document.
 *
 * @example
 * ```ts
 * import { lineChart } from "./svg.ts";
 * const svg = lineChart({ title: "Deliveries/s", xLabel: "subscribers", yLabel: "del/s", logX: true,
 *   series: [{ name: "bare-bun", points: [[100, 1e6], [1000, 9e5]] }] });
 * ```
 * @module
 */

/** A named series of (x, y) points. */
export interface Series {
  name: string;
  points: [number, number][];
}

/** Line chart settings. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Logarithmic x axis (subscriber counts). */
  logX?: boolean;
  width?: number;
  height?: number;
}

/** One group of bars (e.g. a load level). */
export interface BarGroup {
  label: string;
  bars: { name: string; value: number }[];
}

/** Bar chart settings. */
export interface BarChartOptions {
  title: string;
  yLabel: string;
  groups: BarGroup[];
  width?: number;
  height?: number;
}

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const FONT = `font-family="system-ui, -apple-system, Segoe UI, sans-serif"`;

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** "Nice" tick values covering [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Short number label: 1.2M, 350k, 0.25. */
export function shortNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  if (abs === 0) return "0";
  return `${Number(value.toPrecision(3))}`;
}

function frame(width: number, height: number, title: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">\n` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>\n` +
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>\n` +
    body +
    `</svg>\n`
  );
}

function legend(names: string[], x: number, y: number): string {
  return names
    .map(
      (name, i) =>
        `<rect x="${x}" y="${y + i * 18 - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` +
        `<text x="${x + 18}" y="${y + i * 18 + 1}">${escapeXml(name)}</text>`,
    )
    .join("\n");
}

/** A line chart with markers; y starts at 0. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const left = 80;
  const right = 170;
  const top = 40;
  const bottom = 55;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = options.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = options.series.flatMap((s) => s.points.map((p) => p[1]));
  const yTicks = niceTicks(Math.max(1, ...ys));
  const yMax = yTicks[yTicks.length - 1]!;
  const fx = options.logX ? (x: number) => Math.log10(Math.max(1, x)) : (x: number) => x;
  const xVals = [...new Set(xs)].sort((a, b) => a - b);
  const xMin = fx(xVals[0] ?? 1);
  const xMax = fx(xVals[xVals.length - 1] ?? 10);
  const span = xMax - xMin || 1;
  const px = (x: number) => left + ((fx(x) - xMin) / span) * plotW;
  const py = (y: number) => top + plotH - (y / yMax) * plotH;
  let body = "";
  for (const t of yTicks) {
    body += `<line x1="${left}" x2="${left + plotW}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`;
    body += `<text x="${left - 8}" y="${py(t) + 4}" text-anchor="end">${shortNumber(t)}</text>\n`;
  }
  for (const x of xVals) {
    body += `<line x1="${px(x)}" x2="${px(x)}" y1="${top}" y2="${top + plotH}" stroke="#f0f0f0"/>`;
    body += `<text x="${px(x)}" y="${top + plotH + 18}" text-anchor="middle">${shortNumber(x)}</text>\n`;
  }
  body += `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`;
  body += `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>\n`;
  body += `<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>\n`;
  body += `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>\n`;
  options.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length];
    const points = [...series.points].sort((a, b) => a[0] - b[0]);
    if (points.length > 1) {
      body += `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${points.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(" ")}"/>\n`;
    }
    for (const p of points) {
      body += `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="4" fill="${color}"><title>${escapeXml(series.name)}: ${shortNumber(p[1])} at ${shortNumber(p[0])}</title></circle>\n`;
    }
  });
  body += legend(options.series.map((s) => s.name), left + plotW + 20, top + 10);
  return frame(width, height, options.title, body);
}

/** A grouped bar chart; bars with the same name share a colour across groups. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const left = 70;
  const right = 190;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const names = [...new Set(options.groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const values = options.groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite);
  const yTicks = niceTicks(Math.max(0.001, ...values));
  const yMax = yTicks[yTicks.length - 1]!;
  const py = (y: number) => top + plotH - (Math.max(0, y) / yMax) * plotH;
  let body = "";
  for (const t of yTicks) {
    body += `<line x1="${left}" x2="${left + plotW}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`;
    body += `<text x="${left - 8}" y="${py(t) + 4}" text-anchor="end">${shortNumber(t)}</text>\n`;
  }
  const groupW = plotW / Math.max(1, options.groups.length);
  const barW = Math.min(28, (groupW * 0.8) / Math.max(1, names.length));
  options.groups.forEach((group, gi) => {
    const startX = left + gi * groupW + (groupW - barW * names.length) / 2;
    names.forEach((name, ni) => {
      const bar = group.bars.find((b) => b.name === name);
      if (!bar || !Number.isFinite(bar.value)) return;
      const x = startX + ni * barW;
      body += `<rect x="${x.toFixed(1)}" y="${py(bar.value).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - py(bar.value)).toFixed(1)}" fill="${COLORS[ni % COLORS.length]}"><title>${escapeXml(name)} ${escapeXml(group.label)}: ${bar.value.toFixed(3)}</title></rect>\n`;
    });
    body += `<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(group.label)}</text>\n`;
  });
  body += `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`;
  body += `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>\n`;
  body += `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>\n`;
  body += legend(names, left + plotW + 20, top + 10);
  return frame(width, height, options.title, body);
}
