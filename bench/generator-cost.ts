/**
 * Measures what the load generator itself costs: CPU time of the generator processes per
 * delivery (from `/proc`), next to the server's, over unthrottled fan-out runs of a fixed size.
 * With `--cpu-prof` the generators run under `bun --cpu-prof` and the hottest functions of
 * the first one are printed.
 *
 * Usage: `bun bench/generator-cost.ts [--system bare-bun] [--subscribers 1000] [--processes 2]
 * [--runs 5] [--per-topic 1000] [--topics 1] [--topics-per-connection 1] [--variant json|zlib|e2e] [--cpu-prof]`
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";

/** User and system CPU time of a process, ms (from `/proc/<pid>/stat`, clock ticks of 10 ms). */
function userSystemMs(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return [Number(fields[11]) * 10, Number(fields[12]) * 10];
}
import { type CpuProfile, summarizeProfile } from "./lib/cpuprofile.ts";
import { Fleet } from "./lib/fleet.ts";
import { median } from "./lib/measure.ts";
import { cpuPreciseMs, killAll } from "./lib/procs.ts";
import { ROOT, type SystemName, startSystem } from "./lib/systems.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const system = arg("--system", "bare-bun") as SystemName;
const subscribers = Number(arg("--subscribers", "1000"));
const processes = Number(arg("--processes", subscribers > 200 ? "2" : "1"));
const runs = Number(arg("--runs", "5"));
const perTopic = Number(arg("--per-topic", "1000"));
const variant = arg("--variant", "json");
const topicCount = Number(arg("--topics", "1"));
const topicsPerConnection = Number(arg("--topics-per-connection", "1"));
const topics = Array.from({ length: topicCount }, (_, i) => (topicCount === 1 ? "cost" : `cost.${i}`));
const profile = process.argv.includes("--cpu-prof");
const secret = "bench-secret-0123456789-0123456789-abcdef";
const profDir = `${ROOT}bench/results/tmp/genprof-${process.pid}`;

const hardStop = setTimeout(() => {
  console.error("generator-cost: time limit reached");
  killAll();
  process.exit(2);
}, 5 * 60_000);
hardStop.unref();

if (profile) mkdirSync(profDir, { recursive: true });
const sys = await startSystem(system, { jwtSecret: secret });
let fleet: Fleet | undefined;
const genUs: number[] = [];
const serverUs: number[] = [];
const rates: number[] = [];
const systemShares: number[] = [];
let bad = 0;
let parsedTotal = 0;
try {
  fleet = await Fleet.start({
    port: sys.port,
    connections: subscribers,
    processes,
    topics,
    topicsPerConnection,
    encryption: variant === "e2e",
    jwtSecret: secret,
    maxSeconds: 240,
    progressMs: 0,
    runtimeArgs: profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-interval=250"] : [],
  });
  const size = variant === "zlib" ? 1024 : 100;
  for (let run = -1; run < runs; run++) {
    const genBefore = fleet.procs.reduce((sum, p) => sum + cpuPreciseMs(p.pid), 0);
    const splitBefore = fleet.procs.map((p) => userSystemMs(p.pid));
    const serverBefore = cpuPreciseMs(sys.server.pid);
    let startedAt = 0;
    const phase = await fleet.phase(perTopic, 60_000, async () => {
      const mark = sys.publisher.mark;
      sys.publisher.send({ cmd: "publish", topics, count: perTopic, rate: 0, size });
      const published = await sys.publisher.waitFor((e) => e.ev === "published" || e.ev === "error", 65_000, mark);
      startedAt = Number(published.startedAt);
    });
    const genMs = fleet.procs.reduce((sum, p) => sum + cpuPreciseMs(p.pid), 0) - genBefore;
    const serverMs = cpuPreciseMs(sys.server.pid) - serverBefore;
    const splitAfter = fleet.procs.map((p) => userSystemMs(p.pid));
    let userMs = 0;
    let systemMs = 0;
    splitAfter.forEach(([u, s], i) => {
      userMs += u - splitBefore[i]![0];
      systemMs += s - splitBefore[i]![1];
    });
    bad += phase.lost + phase.duplicates + phase.missing + phase.undecodable;
    parsedTotal += phase.parsed;
    if (run < 0) continue;
    const rate = phase.deliveries / Math.max(0.001, (phase.lastAt - startedAt) / 1000);
    genUs.push((genMs * 1000) / Math.max(1, phase.deliveries));
    serverUs.push((serverMs * 1000) / Math.max(1, phase.deliveries));
    rates.push(rate);
    systemShares.push(systemMs / Math.max(1, userMs + systemMs));
    console.log(
      `run ${run + 1}: ${Math.round(rate).toLocaleString("en-US")} del/s, generator ${genUs.at(-1)!.toFixed(3)} µs CPU/delivery, server ${serverUs.at(-1)!.toFixed(3)}` +
        ` (generator kernel share ${Math.round(systemShares.at(-1)! * 100)} %, ${(phase.deliveries / Math.max(1, phase.reads)).toFixed(2)} deliveries per TCP read), lost/dup/missing ${phase.lost}/${phase.duplicates}/${phase.missing}`,
    );
  }
  console.log(
    `median: ${Math.round(median(rates)).toLocaleString("en-US")} del/s, generator ${median(genUs).toFixed(3)} µs CPU/delivery, server ${median(serverUs).toFixed(3)} µs (${system}, ${subscribers} connections, ${topicCount} topics × ${topicsPerConnection} per connection, ${processes} generator processes, ${variant})`,
  );
  console.log(`publications read with JSON.parse instead of the byte scanner: ${parsedTotal}`);
  if (bad > 0) console.log(`INTEGRITY: ${bad} lost/duplicate/missing/undecodable`);
} finally {
  await fleet?.stop();
  await sys.stop();
}

if (profile) {
  const files = readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"));
  for (const file of files.slice(0, 1)) {
    const summary = summarizeProfile(JSON.parse(readFileSync(`${profDir}/${file}`, "utf8")) as CpuProfile, ROOT, 25);
    const busy = summary.totalMs - summary.idleMs;
    console.log(`generator profile ${file}: sampled ${summary.totalMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms, GC ${summary.gcMs.toFixed(0)} ms`);
    for (const f of summary.functions) console.log(`${f.selfMs.toFixed(1).padStart(8)} ms ${((f.selfMs / busy) * 100).toFixed(1).padStart(5)} %  ${f.name}  ${f.location}`);
    for (const f of summary.files) console.log(`${f.selfMs.toFixed(1).padStart(8)} ms ${((f.selfMs / busy) * 100).toFixed(1).padStart(5)} %  [file] ${f.name}`);
  }
  rmSync(profDir, { recursive: true, force: true });
}
process.exit(bad > 0 ? 1 : 0);
