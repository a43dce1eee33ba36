/**
 * Profiles our client while it receives events: the bare Bun baseline publishes `--events`
 * stamped ~100-byte events to one topic and `bench/clients/ours-client.ts` consumes them under
 * `--cpu-prof` of the chosen runtime (Bun, Deno or Node 22); prints self time per function and
 * per file over the whole client run and writes `bench/results/profile-client[-deno|-node].md` /
 * `.json`.
 *
 * Usage: `bun bench/profile-client.ts [--runtime bun|deno|node] [--events 50000] [--tiny]`
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type CpuProfile, summarizeProfile } from "./lib/cpuprofile.ts";
import { signJwt } from "./lib/jwt.ts";
import { JsonProcess, killAll } from "./lib/procs.ts";
import { ROOT, startSystem } from "./lib/systems.ts";

const tiny = process.argv.includes("--tiny");
const index = process.argv.indexOf("--events");
const events = index >= 0 ? Number(process.argv[index + 1]) : tiny ? 2000 : 50_000;
const runtimeIndex = process.argv.indexOf("--runtime");
const runtime = runtimeIndex >= 0 ? process.argv[runtimeIndex + 1] : "bun";
const BIN = `${ROOT}node_modules/.bin`;
const CLIENT = `${ROOT}bench/clients/ours-client.ts`;
const PROFILE_FLAGS = (dir: string) => ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=250"];
const COMMANDS: Record<string, (dir: string) => string[]> = {
  bun: (dir) => [process.execPath, ...PROFILE_FLAGS(dir), CLIENT],
  deno: (dir) => [`${BIN}/deno`, "run", "-A", "--quiet", ...PROFILE_FLAGS(dir), CLIENT],
  node: (dir) => [`${BIN}/node`, "--no-warnings", ...PROFILE_FLAGS(dir), CLIENT],
};
const command = COMMANDS[runtime ?? ""];
if (!command) {
  console.error(`--runtime must be one of ${Object.keys(COMMANDS).join(", ")}`);
  process.exit(2);
}
const suffix = runtime === "bun" ? "" : `-${runtime}`;
const secret = "bench-secret-0123456789-0123456789-abcdef";
const outDir = tiny ? `${ROOT}bench/results/tmp` : `${ROOT}bench/results`;
const profDir = `${ROOT}bench/results/tmp/prof-client-${process.pid}`;
mkdirSync(profDir, { recursive: true });
const hardStop = setTimeout(() => {
  console.error("profile-client: time limit reached");
  killAll();
  process.exit(2);
}, 3 * 60_000);
hardStop.unref();

const sys = await startSystem("bare-bun", { jwtSecret: secret });
let done: Record<string, unknown> | undefined;
try {
  const client = JsonProcess.spawn(
    "client",
    command(profDir),
    {
      cwd: ROOT,
      env: {
        BENCH_URL: `ws://127.0.0.1:${sys.port}/wse`,
        BENCH_TOKEN: signJwt(secret, "profile-client"),
        BENCH_TOPIC: "profile",
        BENCH_EXPECT: String(events),
        BENCH_TIMEOUT_MS: "120000",
      },
    },
  );
  await client.waitFor((e) => e.ev === "ready", 30_000);
  sys.publisher.send({ cmd: "publish", topics: ["profile"], count: events, rate: 0, size: 100, batch: 200 });
  done = await client.waitFor((e) => e.ev === "done", 120_000);
  await client.exited(10_000);
} finally {
  await sys.stop();
}
const seconds = (Number(done!.lastAt) - Number(done!.firstAt)) / 1000;
const rate = Number(done!.measured) / seconds;
const files = readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"));
if (files.length === 0) {
  console.error(`no .cpuprofile written in ${profDir}`);
  process.exit(1);
}
const summary = summarizeProfile(JSON.parse(readFileSync(`${profDir}/${files[0]}`, "utf8")) as CpuProfile, ROOT, 25);
const busy = summary.totalMs - summary.idleMs;
const lines = [
  `Profile of our client (${runtime}) receiving ${events.toLocaleString("en-US")} events; ${new Date().toISOString()}`,
  `${Math.round(rate).toLocaleString("en-US")} events/s under the profiler (last 80 %), lost ${done!.lost}, duplicates ${done!.duplicates}`,
  `sampled ${summary.totalMs.toFixed(0)} ms (whole client process), GC ${summary.gcMs.toFixed(0)} ms`,
  "",
  "| self ms | share | function | location |",
  "| ---: | ---: | --- | --- |",
  ...summary.functions.map((f) => `| ${f.selfMs.toFixed(1)} | ${((f.selfMs / busy) * 100).toFixed(1)} % | ${f.name} | ${f.location} |`),
  "",
  "| self ms | share | file |",
  "| ---: | ---: | --- |",
  ...summary.files.map((f) => `| ${f.selfMs.toFixed(1)} | ${((f.selfMs / busy) * 100).toFixed(1)} % | ${f.name} |`),
];
console.log(lines.join("\n"));
mkdirSync(outDir, { recursive: true });
writeFileSync(`${outDir}/profile-client${suffix}.md`, lines.join("\n") + "\n");
writeFileSync(`${outDir}/profile-client${suffix}.json`, JSON.stringify({ runtime, events, rate, summary }, null, 2) + "\n");
rmSync(profDir, { recursive: true, force: true });
process.exit(0);
