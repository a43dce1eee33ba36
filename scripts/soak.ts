/**
 * The 10-minute soak (see `test/hardening/soak.ts`): spawns the server on a free loopback port,
 * holds thousands of churning connections against it, prints RSS and error samples as it goes
 * and a PASS/FAIL verdict at the end (exit code 0/1).
 *
 * ```sh
 * bun scripts/soak.ts                          # 3,000 connections, 10 minutes
 * bun scripts/soak.ts --connections 5000 --minutes 30 --out soak.json
 * ```
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { startHardTarget } from "../test/hardening/kit.ts";
import { FULL_SOAK, runSoak } from "../test/hardening/soak.ts";

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(`Usage: bun scripts/soak.ts [--connections N] [--minutes M] [--churn 0.02] [--topics N] [--rate N] [--warmup-sec S] [--sample-sec S] [--out file.json]
Defaults: ${FULL_SOAK.connections} connections, ${FULL_SOAK.durationMs / 60_000} minutes measured after a ${FULL_SOAK.warmupMs / 1000} s warm-up, ${FULL_SOAK.churnPerSecond * 100} %/s churn, ${FULL_SOAK.topics} topics, ${FULL_SOAK.publishRate} publications/s, a sample every ${FULL_SOAK.sampleMs / 1000} s.`);
  process.exit(0);
}
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, fallback: number, min = Number.MIN_VALUE): number => {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    console.error(`--${name} must be a number ≥ ${min === Number.MIN_VALUE ? "0 (exclusive)" : min}, got ${v}`);
    process.exit(2);
  }
  return n;
};

const options = {
  ...FULL_SOAK,
  connections: num("connections", FULL_SOAK.connections),
  durationMs: num("minutes", FULL_SOAK.durationMs / 60_000) * 60_000,
  warmupMs: num("warmup-sec", FULL_SOAK.warmupMs / 1000) * 1000,
  churnPerSecond: num("churn", FULL_SOAK.churnPerSecond, 0),
  topics: num("topics", FULL_SOAK.topics),
  publishRate: num("rate", FULL_SOAK.publishRate),
  sampleMs: num("sample-sec", FULL_SOAK.sampleMs / 1000) * 1000,
};
const target = await startHardTarget({});
try {
  console.warn(`[soak] server pid ${target.pid()} on ${target.wsUrl}; ${options.connections} connections, ${options.warmupMs / 1000} s warm-up + ${options.durationMs / 60_000} min measured`);
  const result = await runSoak(target, options);
  const out = arg("out");
  if (out) writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.pass ? 0 : 1;
} finally {
  await target.stop();
}
