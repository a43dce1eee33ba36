/**
 * Slow consumers at scale: many subscribers of a busy topic stop reading (raw TCP WebSockets
 * whose sockets are paused) among many healthy subscribers. Verdict: every stalled one is
 * closed as a slow consumer (the server's 4008 counter; the reader sees 4008, or just the end of
 * the connection when it resumes after the server gave up on the close handshake), every healthy one receives every publication in
 * order, `/health` keeps answering, and the server's memory stays bounded — it does not buffer
 * without limit for peers that stopped reading — and comes back down once they are cut.
 *
 * `bun test/hardening/slow-consumer.ts [--stalled 50] [--healthy 200]` runs it as a program;
 * `slow-consumer.test.ts` is the CI size.
 *
 * @module
 */
import { RawWebSocket } from "../conformance/raw-socket.ts";
import { onTopic, type WireClient } from "../conformance/wire.ts";
import { connectWire, HealthProbe, type HardTarget, metric, mib, report, sleep, startHardTarget, waitUntil } from "./kit.ts";

/** Options of {@link runSlowConsumers}. */
export interface SlowConsumerOptions {
  stalled: number;
  healthy: number;
  /** Publications (each ~16 KiB of incompressible text) to send at least; more follow (up to 4×) until the server cut every stalled reader (kernel buffers on loopback absorb several MiB first). */
  publications: number;
}

/** CI size. */
export const CI_SLOW_CONSUMER: SlowConsumerOptions = { stalled: 10, healthy: 40, publications: 400 };

/** Per-connection outbound limit for the scenario (small, so stalls are detected quickly). */
export const SLOW_CONSUMER_SERVER = { backpressureLimitBytes: 256 * 1024 } as const;

async function stalledSubscriber(target: HardTarget, topic: string, i: number): Promise<RawWebSocket> {
  const { url, headers } = target.withToken(await target.mintToken({ sub: `stalled-${i}` }));
  const raw = await RawWebSocket.open(url, headers);
  const seen = (t: string) => raw.until(() => raw.jsonMessages().some((m) => m.t === t), 10_000);
  if (!(await seen("server_ready"))) throw new Error("no server_ready");
  raw.sendText(JSON.stringify({ c: "WSE", t: "client_hello", v: 1, p: { client_version: "raw", protocol_version: 2, features: {} } }));
  if (!(await seen("server_hello"))) throw new Error("no server_hello");
  raw.sendText(JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic] } }));
  if (!(await seen("subscription_update"))) throw new Error("no subscription reply");
  raw.pause();
  return raw;
}

/** Runs the scenario against `target` (started with {@link SLOW_CONSUMER_SERVER}). */
export async function runSlowConsumers(target: HardTarget, options: SlowConsumerOptions) {
  const topic = `slow.${crypto.randomUUID().slice(0, 8)}`;
  const healthy: WireClient[] = [];
  for (let i = 0; i < options.healthy; i++) {
    const c = await connectWire(target, `healthy-${i}`);
    await c.subscribe([topic]);
    healthy.push(c);
  }
  const stalled: RawWebSocket[] = [];
  for (let i = 0; i < options.stalled; i++) stalled.push(await stalledSubscriber(target, topic, i));
  await sleep(300);
  const baselineKiB = target.rssKiB();
  let peakKiB = baselineKiB;
  const health = new HealthProbe(target.httpUrl, 100, 3000);
  const blob = Buffer.from(crypto.getRandomValues(new Uint8Array(12 * 1024))).toString("base64");
  let top = -1;
  const started = performance.now();
  const closesBefore = await metric(target, "wse_slow_consumer_closes_total");
  let cut = 0;
  for (let i = 0; i < options.publications * 4; i++) {
    top = (await target.publish(topic, "blob", { i, blob })).offset;
    if (i % 20 === 0) {
      peakKiB = Math.max(peakKiB, target.rssKiB());
      if (i >= options.publications) {
        cut = (await metric(target, "wse_slow_consumer_closes_total")) - closesBefore;
        if (cut >= options.stalled) break;
      }
    }
  }
  cut = (await metric(target, "wse_slow_consumer_closes_total")) - closesBefore;
  const publishMs = Math.round(performance.now() - started);
  const whole = await Promise.all(
    healthy.map((c) =>
      c
        .waitFor((f) => f.envelope?.tp === topic && f.envelope.o === top, 120_000, 0, `offset ${top}`)
        .then(() => {
          const offsets = c.frames.filter(onTopic(topic)).map((f) => f.envelope!.o);
          return offsets.length === top + 1 && offsets.every((o, k) => o === k);
        })
        .catch(() => false),
    ),
  );
  peakKiB = Math.max(peakKiB, target.rssKiB());
  for (const s of stalled) s.resume();
  await Promise.all(stalled.map((s) => s.until(() => s.closeCode !== null || s.ended, 15_000)));
  // The 4008 close frame reaches a reader that resumes before the server gives up on the close
  // handshake (5 s) and cuts the TCP connection; after that the reader just sees the end.
  const codes: Record<string, number> = {};
  for (const s of stalled) {
    const key = s.closeCode !== null ? String(s.closeCode) : s.ended ? "ended" : "open";
    codes[key] = (codes[key] ?? 0) + 1;
  }
  const healthReport = await health.stop();
  for (const c of healthy) await c.close();
  for (const s of stalled) s.destroy();
  let afterKiB = target.rssKiB();
  const limitKiB = baselineKiB + Math.max(64 * 1024, baselineKiB * 0.5);
  await waitUntil(() => (afterKiB = target.rssKiB()) <= limitKiB, 20_000, "RSS back near baseline").catch(() => undefined);
  const healthyWhole = whole.filter(Boolean).length;
  // Bounded: the stalled peers may pin at most their limit each (plus the kernel's share), not the whole stream.
  const streamMiB = ((top + 1) * blob.length) / (1024 * 1024);
  const pass = healthyWhole === options.healthy && cut === options.stalled && (codes["4008"] ?? 0) + (codes.ended ?? 0) === options.stalled && healthReport.failures === 0 && afterKiB <= limitKiB;
  return report("slow-consumer", pass, {
    stalled: options.stalled,
    healthy: options.healthy,
    publications: top + 1,
    slowConsumerCloses: cut,
    streamMiB: Math.round(streamMiB * 10) / 10,
    publishMs,
    healthyWhole,
    stalledCloseCodes: codes,
    health: healthReport,
    rssMiB: { baseline: mib(baselineKiB), peak: mib(peakKiB), after: mib(afterKiB), limit: mib(limitKiB) },
  });
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const target = await startHardTarget({ ...SLOW_CONSUMER_SERVER });
  try {
    const result = await runSlowConsumers(target, { stalled: arg("stalled", 50), healthy: arg("healthy", 200), publications: arg("publications", 400) });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
