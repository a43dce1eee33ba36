/**
 * Reconnect storm: thousands of real clients (`client/mod.ts` with its full-jitter reconnect:
 * the first retry after a uniform random wait in [0, 1 s]), spread over a few child processes,
 * are kicked at once by one `POST /api/disconnect`. While they all come back, `/health` is probed every 50 ms. Verdict:
 * every client is ready again and subscribed (a publication reaches all of them), `/health`
 * never failed, and the reconnect times are spread by the jitter — the 10th–90th percentile span
 * covers at least 40 % of the base delay and no 100 ms window holds more than 25 % of the
 * clients (without jitter they would all land in one window).
 *
 * `bun test/hardening/reconnect-storm.ts [--clients 5000] [--processes 8] [--restart]` runs the
 * full size (`--restart` kicks the herd with a server restart instead: SIGTERM drain → 1012);
 * `reconnect-storm.test.ts` is the CI size (2,000 clients in 4 processes).
 *
 * @module
 */
import { ChildClients } from "./child-clients.ts";
import { distribution, HealthProbe, type HardTarget, mib, report, sleep, startHardTarget, waitUntil } from "./kit.ts";

/** Largest share of reconnects allowed in the busiest 100 ms window. */
export const MAX_BUSIEST_WINDOW_SHARE = 1 / 3;

/** Options of {@link runReconnectStorm}. */
export interface ReconnectStormOptions {
  clients: number;
  /** Child processes the clients are spread over (real clients are on many machines; one event loop would serialize them). */
  processes: number;
  /** Client reconnect base delay, ms (the client's default is 1000). */
  baseDelay: number;
  /** How the herd is kicked: one `POST /api/disconnect`, or a server restart (SIGTERM drain → 1012, then start again). */
  via?: "disconnect" | "restart";
}

/** CI size. */
export const CI_RECONNECT_STORM: ReconnectStormOptions = { clients: 2000, processes: 4, baseDelay: 1000 };

/** Runs one storm against `target`. */
export async function runReconnectStorm(target: HardTarget, options: ReconnectStormOptions) {
  const topic = `herd.${crypto.randomUUID().slice(0, 8)}`;
  const user = `herd-${crypto.randomUUID().slice(0, 6)}`;
  const token = await target.mintToken({ sub: user }, { expiresInSeconds: 3600 });
  const setupStarted = performance.now();
  const per = Math.ceil(options.clients / options.processes);
  const children = await Promise.all(
    Array.from({ length: options.processes }, (_, p) =>
      ChildClients.spawn({ url: target.wsUrl, token, topic, clients: Math.min(per, options.clients - p * per), baseDelay: options.baseDelay }, 120_000),
    ),
  );
  const setupMs = Math.round(performance.now() - setupStarted);
  const rssBefore = target.rssKiB();
  const viaRestart = options.via === "restart";
  let health = viaRestart ? null : new HealthProbe(target.httpUrl, 50, 2000);
  await sleep(300);
  const readyBefore = children.map((c) => c.readyAt.map((r) => r.length));
  const kickAt = Date.now();
  let kicked = -1;
  if (viaRestart) {
    await target.restart(); // SIGTERM: every client is closed 1012; then the server starts again
    health = new HealthProbe(target.httpUrl, 50, 2000);
    kicked = options.clients;
  } else {
    const res = await target.api("/api/disconnect", { method: "POST", body: JSON.stringify({ user_id: user, code: 1000, reason: "storm" }) });
    kicked = ((await res.json()) as { disconnected?: number }).disconnected ?? -1;
  }
  const backAt = () => children.flatMap((c, p) => c.readyAt.map((r, i) => (r.length > readyBefore[p]![i]! ? r[readyBefore[p]![i]!]! - kickAt : -1)));
  const allBack = await waitUntil(() => backAt().every((t) => t >= 0), 60_000, "every client ready again")
    .then(() => true)
    .catch(() => false);
  await sleep(300);
  const healthReport = await health!.stop();
  const rssAfter = target.rssKiB();

  // Every client is subscribed again: one publication reaches all of them.
  const marker = await target.publish(topic, "after-storm", {});
  const allSubscribed = await waitUntil(() => children.every((c) => c.ledgers.every((l) => l.last(topic)?.offset === marker.offset)), 20_000, "the publication at every client")
    .then(() => true)
    .catch(() => false);

  const times = backAt().filter((t) => t >= 0);
  const d = distribution(times);
  const buckets = new Map<number, number>();
  for (const t of times) buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
  const busiest = Math.max(0, ...buckets.values());
  const busiestShare = times.length ? busiest / times.length : 1;
  const histogram = [...buckets].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${b * 100}:${n}`);
  const clientErrors = children.reduce((n, c) => n + c.errors.length, 0);
  await Promise.all(children.map((c) => c.stop()));
  // Without jitter every client lands in one 100 ms window (share ≈ 1); ideal full jitter over
  // ~1 s gives ≈ 0.1. A third leaves room for 2 shared cores delaying the generator processes.
  const spreadOk = d.p90 - d.p10 >= 0.4 * options.baseDelay && busiestShare <= MAX_BUSIEST_WINDOW_SHARE;
  const pass = allBack && allSubscribed && kicked === options.clients && healthReport.failures === 0 && spreadOk;
  return report(viaRestart ? "reconnect-storm-restart" : "reconnect-storm", pass, {
    clients: options.clients,
    via: viaRestart ? "restart" : "disconnect",
    processes: options.processes,
    kicked,
    setupMs,
    allBack,
    allSubscribed,
    reconnectMs: d,
    busiest100msShare: Math.round(busiestShare * 1000) / 1000,
    histogram100ms: histogram,
    health: healthReport,
    clientErrorsReported: clientErrors,
    serverRssMiB: { before: mib(rssBefore), after: mib(rssAfter) },
  });
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const target = await startHardTarget({});
  try {
    const via = process.argv.includes("--restart") ? "restart" : "disconnect";
    const result = await runReconnectStorm(target, { clients: arg("clients", 5000), processes: arg("processes", 8), baseDelay: arg("base-delay", 1000), via });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
