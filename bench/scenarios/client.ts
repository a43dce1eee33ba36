/**
 * Client receive rate: how many events per second one client can receive and decode, for our
 * client (`client/mod.ts`) in Bun, Deno and Node 22, and for the upstream Python `wse-client`.
 * The events come from the bare Bun baseline (the fastest sender here), one topic, ~100-byte
 * stamped JSON, published unthrottled; the rate is taken over the last 80 % of the events (the
 * first 20 % warm the client up), so start-up and a pre-filled queue do not count.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { signJwt } from "../lib/jwt.ts";
import { median } from "../lib/measure.ts";
import { JsonProcess } from "../lib/procs.ts";
import { type BenchContext, int, ratio, type Scenario, type ScenarioReport } from "../lib/scenario.ts";
import { ROOT, startSystem } from "../lib/systems.ts";

interface ClientKind {
  name: string;
  cmd: string[];
  available: () => string | null;
}

const BIN = `${ROOT}node_modules/.bin`;
const OURS = `${ROOT}bench/clients/ours-client.ts`;
const oursAvailable = () => (existsSync(`${ROOT}client/mod.ts`) ? null : "client/mod.ts has not landed");

const CLIENTS: ClientKind[] = [
  { name: "ours (Bun)", cmd: [process.execPath, OURS], available: oursAvailable },
  { name: "ours (Deno)", cmd: [`${BIN}/deno`, "run", "-A", "--quiet", OURS], available: () => oursAvailable() ?? (existsSync(`${BIN}/deno`) ? null : "deno not installed") },
  { name: "ours (Node 22)", cmd: [`${BIN}/node`, "--no-warnings", OURS], available: () => oursAvailable() ?? (existsSync(`${BIN}/node`) ? null : "node 22 not installed") },
  {
    name: "python wse-client",
    cmd: [`${ROOT}.venv/bin/python`, `${ROOT}bench/clients/upstream_client.py`],
    available: () => (existsSync(`${ROOT}.venv/bin/python`) ? null : "no .venv (run scripts/setup-python.sh)"),
  },
];

/** One client's result. */
export interface ClientResult {
  eventsPerSec?: number;
  runs?: number[];
  lost?: number;
  duplicates?: number;
  received?: number;
  expected?: number;
  error?: string;
  skipped?: string;
}

async function runClient(ctx: BenchContext, kind: ClientKind, port: number, publisher: JsonProcess, expect: number, runs: number): Promise<ClientResult> {
  const rates: number[] = [];
  let lost = 0;
  let duplicates = 0;
  let received = 0;
  for (let run = 0; run < runs; run++) {
    const topic = `client-${kind.name.replace(/\W+/g, "-")}-${run}`;
    const proc = JsonProcess.spawn(kind.name, kind.cmd, {
      cwd: ROOT,
      env: {
        BENCH_URL: `ws://127.0.0.1:${port}/wse`,
        BENCH_TOKEN: signJwt(ctx.secret, `client-bench-${run}`),
        BENCH_TOPIC: topic,
        BENCH_EXPECT: String(expect),
        BENCH_TIMEOUT_MS: String(90_000),
      },
    });
    try {
      await proc.waitFor((e) => e.ev === "ready", 30_000);
      const mark = publisher.mark;
      publisher.send({ cmd: "publish", topics: [topic], count: expect, rate: 0, size: 100, batch: 200 });
      await publisher.waitFor((e) => e.ev === "published", 60_000, mark);
      const done = await proc.waitFor((e) => e.ev === "done", 90_000);
      const seconds = (Number(done.lastAt) - Number(done.firstAt)) / 1000;
      const rate = Number(done.measured) / Math.max(0.001, seconds);
      rates.push(rate);
      lost += Number(done.lost);
      duplicates += Number(done.duplicates);
      received += Number(done.count);
      ctx.log(`    ${kind.name} run ${run + 1}/${runs}: ${int(rate)} events/s (${done.count} events, lost ${done.lost}, dup ${done.duplicates})`);
    } finally {
      await proc.stop(3000);
    }
  }
  return { eventsPerSec: median(rates), runs: rates, lost, duplicates, received, expected: expect * runs };
}

/** The client scenario. */
export const scenario: Scenario = {
  name: "client",
  title: "Client receive rate: our client in Bun, Deno, Node vs the upstream Python client",
  async run(ctx): Promise<ScenarioReport> {
    const expect = ctx.tiny ? 500 : ctx.mode === "quick" ? 20_000 : 100_000;
    const runs = ctx.tiny ? 1 : ctx.mode === "quick" ? 3 : 5;
    const results: Record<string, ClientResult> = {};
    const sys = await startSystem("bare-bun", { jwtSecret: ctx.secret });
    try {
      for (const kind of CLIENTS) {
        const reason = kind.available();
        if (reason) {
          results[kind.name] = { skipped: reason };
          ctx.log(`  ${kind.name}: skipped (${reason})`);
          continue;
        }
        ctx.log(`  ${kind.name}: ${expect.toLocaleString("en-US")} events × ${runs}`);
        try {
          results[kind.name] = await runClient(ctx, kind, sys.port, sys.publisher, expect, runs);
        } catch (error) {
          results[kind.name] = { error: (error as Error).message };
          ctx.log(`    failed: ${(error as Error).message}`);
        }
      }
    } finally {
      await sys.stop();
    }
    const python = results["python wse-client"]?.eventsPerSec ?? NaN;
    return {
      name: "client",
      title: this.title,
      tables: [
        {
          title: "Events/s one client receives and decodes (~100 B stamped JSON, one topic, bare Bun sender)",
          columns: ["client", "events/s", "runs", "vs Python client", "lost/dup"],
          rows: Object.entries(results).map(([name, r]) => [
            name,
            r.eventsPerSec ? int(r.eventsPerSec) : r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`,
            r.runs?.map((x) => int(x)).join(" / ") ?? "",
            r.eventsPerSec ? ratio(r.eventsPerSec / python) : "–",
            r.eventsPerSec ? `${r.lost}/${r.duplicates}` : "",
          ]),
        },
      ],
      data: { expect, runs, results },
      notes: [],
    };
  },
};
