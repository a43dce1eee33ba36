/**
 * What a scenario receives and returns. Scenarios live in `bench/scenarios/*.ts`, each exporting
 * a `scenario` object; `bench/run.ts` runs them in order and writes their reports.
 *
 * @module
 */

/** Shared settings and output channels of one benchmark run. */
export interface BenchContext {
  /** `quick` (npm run bench, < 5 min) or `full`. */
  mode: "quick" | "full";
  /** HS256 secret every system verifies. */
  secret: string;
  /** Section-level output. */
  log(line: string): void;
  /** Transient progress output (overwritten on a terminal). */
  progress(line: string): void;
  /** Development mode: tiny loads (N ≤ 50, short runs) to check the code, not to measure. */
  tiny: boolean;
  /** Systems to include (default: every one). */
  systems?: string[];
}

/** A terminal/README table. */
export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

/** What a scenario returns. */
export interface ScenarioReport {
  /** Machine name (file and JSON key). */
  name: string;
  /** Human title. */
  title: string;
  /** Set when the scenario could not run, with the reason. */
  skipped?: string;
  /** Tables for the terminal and the README. */
  tables: Table[];
  /** Everything measured, for the JSON file. */
  data: Record<string, unknown>;
  /** Remarks (e.g. parts skipped and why). */
  notes: string[];
}

/** A scenario. */
export interface Scenario {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioReport>;
}

/** Formats a number with thousands separators and no decimals. */
export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
}

/** Formats milliseconds with two decimals. */
export function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : "–";
}

/** Formats a ratio like 0.93×. */
export function ratio(value: number): string {
  return Number.isFinite(value) && value > 0 ? `${value.toFixed(2)}×` : "–";
}
