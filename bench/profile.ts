/**
 * Profiles a server under fan-out load: starts it with `bun --cpu-prof`, connects N
 * subscribers through the generator, publishes unthrottled for a few runs, stops the server
 * (the profile is written on exit) and prints where the server's CPU time went — per function
 * and per file — plus CPU µs per delivery measured from `/proc`. Writes
 * `bench/results/profile-<system>-<variant>.json` and `.md`.
 *
 * Usage: `bun bench/profile.ts [--system ours|ours-http|bare-bun] [--subscribers 1000]
 * [--runs 4] [--variant json|zlib|e2e] [--tiny]`
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type CpuProfile, summarizeProfile } from "./lib/cpuprofile.ts";
import { Fleet } from "./lib/fleet.ts";
import { measureThroughput } from "./lib/measure.ts";
import { cpuPreciseMs, killAll } from "./lib/procs.ts";
import { ROOT, type SystemName, startSystem } from "./lib/systems.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const system = arg("--system", "ours") as SystemName;
const tiny = process.argv.includes("--tiny");
const subscribers = Number(arg("--subscribers", tiny ? "20" : "1000"));
const runs = Number(arg("--runs", tiny ? "1" : "4"));
const variant = arg("--variant", "json");
const secret = "bench-secret-0123456789-0123456789-abcdef";
const outDir = tiny ? `${ROOT}bench/results/tmp` : `${ROOT}bench/results`;
const profDir = `${ROOT}bench/results/tmp/prof-${process.pid}`;
mkdirSync(profDir, { recursive: true });

const hardStop = setTimeout(() => {
  console.error("profile: time limit reached");
  killAll();
  process.exit(2);
}, 5 * 60_000);
hardStop.unref();

const sys = await startSystem(system, {
  jwtSecret: secret,
  bunFlags: ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-interval=250"],
});
let deliveries = 0;
let cpuMsUsed = 0;
let measureStart = 0;
let measureEnd = 0;
let exitedAt = 0;
let fleet: Fleet | undefined;
try {
  fleet = await Fleet.start({
    port: sys.port,
    connections: subscribers,
    processes: subscribers > 200 ? 2 : 1,
    topics: ["profile"],
    topicsPerConnection: 1,
    encryption: variant === "e2e",
    jwtSecret: secret,
    maxSeconds: 240,
    progressMs: 0,
  });
  const cpuBefore = cpuPreciseMs(sys.server.pid);
  measureStart = performance.now();
  const t = await measureThroughput(sys, fleet, {
    topics: ["profile"],
    runs,
    size: variant === "zlib" ? 1024 : 100,
    targetSeconds: tiny ? 0.2 : 1.5,
    subscribersPerTopic: subscribers,
    log: (line) => console.log(line),
  });
  cpuMsUsed = cpuPreciseMs(sys.server.pid) - cpuBefore;
  measureEnd = performance.now();
  deliveries = t.integrity.deliveries;
  console.log(`median ${Math.round(t.median).toLocaleString("en-US")} del/s; server CPU ${cpuMsUsed.toFixed(0)} ms for ${deliveries.toLocaleString("en-US")} deliveries = ${((cpuMsUsed * 1000) / deliveries).toFixed(3)} µs per delivery`);
} finally {
  await fleet?.stop();
  await sys.stop();
  exitedAt = performance.now();
}

const files = readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"));
if (files.length === 0) {
  console.error(`no .cpuprofile written in ${profDir}; server stderr: ${sys.server.stderrTail.slice(-5).join(" | ")}`);
  process.exit(1);
}
const profile = JSON.parse(readFileSync(`${profDir}/${files[0]}`, "utf8")) as CpuProfile;
const window: [number, number] | undefined = measureEnd ? [exitedAt - measureEnd, exitedAt - measureStart] : undefined;
const summary = summarizeProfile(profile, ROOT, 25, window);
const busy = summary.totalMs - summary.idleMs;
const lines = [
  `Profile of ${system} (${variant}), ${subscribers} subscribers, ${runs} unthrottled runs; ${new Date().toISOString()}`,
  `server CPU ${cpuMsUsed.toFixed(0)} ms for ${deliveries.toLocaleString("en-US")} deliveries = ${((cpuMsUsed * 1000) / Math.max(1, deliveries)).toFixed(3)} µs per delivery`,
  `sampled ${summary.totalMs.toFixed(0)} ms during the measured runs: idle/program ${summary.idleMs.toFixed(0)} ms, GC ${summary.gcMs.toFixed(0)} ms`,
  "",
  "| self ms | share of busy | function | location |",
  "| ---: | ---: | --- | --- |",
  ...summary.functions.map((f) => `| ${f.selfMs.toFixed(1)} | ${((f.selfMs / busy) * 100).toFixed(1)} % | ${f.name} | ${f.location} |`),
  "",
  "| self ms | share of busy | file |",
  "| ---: | ---: | --- |",
  ...summary.files.map((f) => `| ${f.selfMs.toFixed(1)} | ${((f.selfMs / busy) * 100).toFixed(1)} % | ${f.name} |`),
];
console.log(lines.join("\n"));
mkdirSync(outDir, { recursive: true });
const base = `${outDir}/profile-${system}-${variant}`;
writeFileSync(`${base}.md`, lines.join("\n") + "\n");
writeFileSync(`${base}.json`, JSON.stringify({ system, variant, subscribers, runs, cpuMs: cpuMsUsed, deliveries, summary }, null, 2) + "\n");
rmSync(profDir, { recursive: true, force: true });
console.log(`wrote ${base}.md and .json`);
process.exit(0);
