/**
 * Reconnect storm: thousands of real clients (`client/mod.ts`, default reconnect policy: first
 * retry after a uniform random wait in [0, 1 s]) are kicked at once by one
 * `POST /api/disconnect`. While they all come back, `/health` is probed every 50 ms. Verdict:
 * every client is ready again and subscribed (a publication reaches all of them), `/health`
 * never failed, and the reconnect times are spread by the jitter — the 10th–90th percentile span
 * covers at least 40 % of the base delay and no 100 ms window holds more than 25 % of the
 * clients (without jitter they would all land in one window).
 *
 * `bun test/hardening/reconnect-storm.ts [--clients 5000] [--compare]` runs the full size
 * (`--compare` repeats the storm with jitter off to show the difference);
 * `reconnect-storm.test.ts` is the CI size (2,000 clients).
 *
 * @module
 */
import { connect, type WSEClient } from "../../client/mod.ts";
import { distribution, HealthProbe, type HardTarget, mib, report, sleep, startHardTarget, waitUntil } from "./kit.ts";

/** Options of {@link runReconnectStorm}. */
export interface ReconnectStormOptions {
  clients: number;
  /** Client reconnect base delay, ms (the client's default is 1000). */
  baseDelay: number;
  /** Full jitter on (the default) or off (the control run). */
  jitter: boolean;
  /** How many clients connect concurrently while setting up. */
  connectBatch: number;
}

/** CI size. */
export const CI_RECONNECT_STORM: ReconnectStormOptions = { clients: 2000, baseDelay: 1000, jitter: true, connectBatch: 200 };

/** Runs one storm against `target`. */
export async function runReconnectStorm(target: HardTarget, options: ReconnectStormOptions) {
  const topic = `herd.${crypto.randomUUID().slice(0, 8)}`;
  const user = `herd-${crypto.randomUUID().slice(0, 6)}`;
  const token = await target.mintToken({ sub: user }, { expiresInSeconds: 3600 });
  const clients: WSEClient[] = [];
  const setupStarted = performance.now();
  for (let i = 0; i < options.clients; i += options.connectBatch) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(options.connectBatch, options.clients - i) }, () =>
        connect(target.wsUrl, {
          token,
          topics: [topic],
          reconnect: { baseDelay: options.baseDelay, maxDelay: 30_000, jitter: options.jitter },
          heartbeatInterval: 60_000,
          idleTimeout: 120_000,
          connectTimeout: 20_000,
          handshakeTimeout: 20_000,
          requestTimeout: 20_000,
        }),
      ),
    );
    clients.push(...batch);
  }
  const setupMs = Math.round(performance.now() - setupStarted);
  const rssBefore = target.rssKiB();

  const back: number[] = new Array(options.clients).fill(-1);
  let kickAt = 0;
  const offs = clients.map((c, i) =>
    c.onStateChange((state) => {
      if (state === "ready" && kickAt > 0 && back[i] === -1) back[i] = performance.now() - kickAt;
    }),
  );
  let clientErrors = 0;
  const offErrors = clients.map((c) => c.onError(() => clientErrors++));

  const health = new HealthProbe(target.httpUrl, 50, 2000);
  await sleep(300);
  kickAt = performance.now();
  const res = await target.api("/api/disconnect", { method: "POST", body: JSON.stringify({ user_id: user, code: 1000, reason: "storm" }) });
  const kicked = ((await res.json()) as { disconnected?: number }).disconnected ?? -1;
  const allBack = await waitUntil(() => back.every((t) => t >= 0), 60_000, "every client ready again")
    .then(() => true)
    .catch(() => false);
  await sleep(300);
  const healthReport = await health.stop();
  const rssPeakAfter = target.rssKiB();

  // Every client is subscribed again: one publication reaches all of them.
  let received = 0;
  const offEvents = clients.map((c) => c.on("after-storm", () => received++));
  await target.publish(topic, "after-storm", {});
  const allSubscribed = await waitUntil(() => received === options.clients, 20_000, "the publication at every client")
    .then(() => true)
    .catch(() => false);

  const times = back.filter((t) => t >= 0).map((t) => Math.round(t));
  const d = distribution(times);
  const buckets = new Map<number, number>();
  for (const t of times) buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
  const busiest = Math.max(0, ...buckets.values());
  const busiestShare = times.length ? busiest / times.length : 1;
  const histogram = [...buckets].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${b * 100}:${n}`);

  for (const off of [...offs, ...offErrors, ...offEvents]) off();
  await Promise.all(clients.map((c) => c.close()));
  const spreadOk = d.p90 - d.p10 >= 0.4 * options.baseDelay && busiestShare <= 0.25;
  const pass = allBack && allSubscribed && kicked === options.clients && healthReport.failures === 0 && (options.jitter ? spreadOk : true);
  return report(options.jitter ? "reconnect-storm" : "reconnect-storm-no-jitter", pass, {
    clients: options.clients,
    kicked,
    setupMs,
    allBack,
    allSubscribed,
    reconnectMs: d,
    busiest100msShare: Math.round(busiestShare * 1000) / 1000,
    histogram100ms: histogram,
    health: healthReport,
    clientErrorsReported: clientErrors,
    serverRssMiB: { before: mib(rssBefore), after: mib(rssPeakAfter) },
  });
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const target = await startHardTarget({});
  try {
    const clients = arg("clients", 5000);
    const result = await runReconnectStorm(target, { ...CI_RECONNECT_STORM, clients });
    if (process.argv.includes("--compare")) await runReconnectStorm(target, { ...CI_RECONNECT_STORM, clients, jitter: false });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
