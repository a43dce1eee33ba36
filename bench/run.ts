/**
 * The benchmark orchestrator: runs the scenarios in `bench/scenarios/`, prints a table per
 * measurement, writes everything as JSON (`bench/results/<mode>.json`), a Markdown summary
 * (`bench/results/<mode>.md`) and SVG charts, and reports where each target stands.
 *
 * Usage: `bun bench/run.ts --quick|--full [--only fanout,connections] [--systems ours,bare-bun]`
 * (`--tiny`: N ≤ 50 and short runs, to check the code; writes under `bench/results/tmp/`). Runs with
 * `--only`/`--systems` write `<mode>-partial.json`/`.md`, no charts and leave the README alone.
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { killAll } from "./lib/procs.ts";
import type { BenchContext, Scenario, ScenarioReport, Table } from "./lib/scenario.ts";
import { ROOT } from "./lib/systems.ts";
import { writeCharts } from "./lib/charts.ts";
import { replaceBlock } from "./lib/readme.ts";
import { evaluateTargets, type TargetStatus } from "./lib/targets.ts";
import { scenario as fanout } from "./scenarios/fanout.ts";
import { scenario as topics } from "./scenarios/topics.ts";
import { scenario as variants } from "./scenarios/variants.ts";
import { scenario as connections } from "./scenarios/connections.ts";
import { scenario as client } from "./scenarios/client.ts";
import { scenario as redis } from "./scenarios/redis.ts";

/** Every scenario, in the order `run.ts` runs them. */
export const SCENARIOS: Scenario[] = [fanout, topics, variants, connections, client, redis];

function argValue(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** Renders a table as aligned text. */
export function renderTable(table: Table): string {
  const clip = (v: unknown) => {
    const text = String(v ?? "");
    return text.length > 100 ? `${text.slice(0, 99)}…` : text;
  };
  table = { ...table, rows: table.rows.map((r) => r.map(clip)) };
  const cells = [table.columns, ...table.rows.map((r) => r.map(String))];
  const widths = table.columns.map((_, c) => Math.max(...cells.map((r) => String(r[c] ?? "").length)));
  const line = (r: (string | number)[]) => r.map((v, c) => String(v ?? "").padEnd(widths[c]!)).join("  ");
  return [table.title, line(table.columns), widths.map((w) => "-".repeat(w)).join("  "), ...table.rows.map(line)].join("\n");
}

/** Renders a table as Markdown. */
export function markdownTable(table: Table): string {
  const esc = (v: unknown) => {
    const text = String(v ?? "").replace(/\s+/g, " ");
    return (text.length > 160 ? `${text.slice(0, 159)}…` : text).replace(/\|/g, "\\|");
  };
  return [
    `**${table.title}**`,
    "",
    `| ${table.columns.map(esc).join(" | ")} |`,
    `| ${table.columns.map(() => "---").join(" | ")} |`,
    ...table.rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

interface CodecCell {
  operation: string;
  size: number;
  implementation: string;
  messagesPerSec: number;
  vsWasm: number;
}

/** A compact table of the codec benchmark's JSON (1 KB cells and the handshake), when present. */
function codecTable(codec: Record<string, unknown> | null): Table | null {
  if (!codec) return null;
  const rows: (string | number)[][] = [];
  for (const [file, report] of Object.entries(codec)) {
    const r = report as { runtime?: string; date?: string; results?: CodecCell[] };
    for (const cell of r.results ?? []) {
      if (cell.size !== 1024 && !/handshake/i.test(cell.operation)) continue;
      rows.push([r.runtime ?? file, cell.operation, cell.implementation, Math.round(cell.messagesPerSec).toLocaleString("en-US"), `${cell.vsWasm.toFixed(2)}×`]);
    }
  }
  return rows.length
    ? { title: "Codec (from `bench/codec.ts`, bench/results/codec-*.json): 1 KB messages and the key exchange", columns: ["runtime", "operation", "implementation", "ops/s", "vs WASM"], rows }
    : null;
}

function readCodecResults(): Record<string, unknown> | null {
  const dir = `${ROOT}bench/results`;
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => /^codec.*\.json$/.test(f));
  const out: Record<string, unknown> = {};
  for (const file of files) {
    try {
      out[file] = JSON.parse(readFileSync(`${dir}/${file}`, "utf8"));
    } catch {
      out[file] = "unreadable";
    }
  }
  return files.length ? out : null;
}

async function main(): Promise<void> {
  const mode = process.argv.includes("--full") ? "full" : "quick";
  const tiny = process.argv.includes("--tiny");
  const only = argValue("--only")?.split(",");
  const systems = argValue("--systems")?.split(",");
  const outDir = tiny ? `${ROOT}bench/results/tmp` : `${ROOT}bench/results`;
  mkdirSync(outDir, { recursive: true });
  const isTty = process.stderr.isTTY;
  let lastProgressAt = 0;
  const ctx: BenchContext = {
    mode,
    tiny,
    secret: "bench-secret-0123456789-0123456789-abcdef",
    systems,
    log(line) {
      if (isTty) process.stderr.write("\r\x1b[K");
      console.log(line);
    },
    progress(line) {
      if (isTty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
      else if (Date.now() - lastProgressAt >= 5000) {
        lastProgressAt = Date.now();
        process.stderr.write(`  … ${line}\n`);
      }
    },
  };
  const started = new Date();
  const conditions = {
    date: started.toISOString(),
    mode: tiny ? `${mode} (tiny)` : mode,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    bun: Bun.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  console.log(`WSE benchmarks — ${conditions.mode}, ${conditions.date}, ${conditions.cpus} × ${conditions.cpuModel}, load ${conditions.loadAverageAtStart.join(" ")}`);
  const reports: ScenarioReport[] = [];
  for (const scenario of SCENARIOS) {
    if (only && !only.includes(scenario.name)) continue;
    console.log(`\n== ${scenario.title}`);
    const t0 = performance.now();
    let report: ScenarioReport;
    try {
      report = await scenario.run(ctx);
    } catch (error) {
      report = { name: scenario.name, title: scenario.title, skipped: `failed: ${(error as Error).message}`, tables: [], data: {}, notes: [] };
    }
    killAll();
    report.data.seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
    reports.push(report);
    if (report.skipped) ctx.log(`  skipped: ${report.skipped}`);
    for (const table of report.tables) ctx.log(`\n${renderTable(table)}`);
    for (const note of report.notes) ctx.log(`  note: ${note}`);
  }
  const targets: TargetStatus[] = evaluateTargets(reports);
  const targetTable: Table = {
    title: "Targets",
    columns: ["target", "measured", "status"],
    rows: targets.map((t) => [t.target, t.measured, t.status]),
  };
  ctx.log(`\n${renderTable(targetTable)}`);
  const charts = only !== undefined || systems !== undefined ? [] : writeCharts(reports, outDir);
  const codec = readCodecResults();
  const codecSummary = codecTable(codec);
  if (codecSummary) ctx.log(`\n${renderTable(codecSummary)}`);
  const result = { conditions, seconds: (Date.now() - started.getTime()) / 1000, targets, reports, codec, charts };
  const partial = only !== undefined || systems !== undefined;
  const base = partial ? `${mode}-partial` : mode;
  writeFileSync(`${outDir}/${base}.json`, JSON.stringify(result, null, 2) + "\n");
  const md = [
    `Measured ${conditions.date} (${conditions.mode}), ${conditions.cpus} × ${conditions.cpuModel}, ${conditions.memoryGiB} GiB, Bun ${conditions.bun}, load average at start ${conditions.loadAverageAtStart.join(" ")}.`,
    "",
    markdownTable(targetTable),
    "",
    ...reports.flatMap((r) => [
      `#### ${r.title}`,
      "",
      ...(r.skipped ? [`Skipped: ${r.skipped}`, ""] : []),
      ...r.tables.flatMap((t) => [markdownTable(t), ""]),
      ...r.notes.map((n) => `- ${n}`),
      "",
    ]),
    ...(codecSummary ? ["#### Codec", "", markdownTable(codecSummary), ""] : []),
  ].join("\n");
  writeFileSync(`${outDir}/${base}.md`, md);
  if (!tiny && !partial) {
    const heading = mode === "full" ? "Full suite" : "Quick suite (`npm run bench`)";
    replaceBlock(`${ROOT}bench/README.md`, `results-${mode}`, `### ${heading}\n\n${md}`);
  }
  ctx.log(`\nwrote ${outDir}/${base}.json, ${base}.md and ${charts.length} charts in ${result.seconds.toFixed(0)} s`);
  killAll();
  process.exit(0);
}

if (import.meta.main) {
  const hardStop = setTimeout(() => {
    console.error("bench: hard time limit reached, stopping");
    killAll();
    process.exit(2);
  }, (process.argv.includes("--full") ? 60 : 15) * 60_000);
  hardStop.unref();
  await main();
}
