/**
 * Frozen client: a child process running real clients (`client/mod.ts`) is stopped with
 * SIGSTOP while publications keep coming, longer than the server's idle timeout, then resumed
 * with SIGCONT. Verdict: while frozen the server releases the dead-looking connections (its
 * connection count drops; other clients are untouched), and once resumed every client
 * reconnects by itself and recovers: each offset exactly once, in order, no discontinuity.
 *
 * `bun test/hardening/frozen-client.ts [--clients 20] [--freeze 15000]` runs it as a program;
 * `frozen-client.test.ts` is the CI size.
 *
 * @module
 */
import { ChildClients } from "./child-clients.ts";
import { Bystander, type HardTarget, report, sleep, startHardTarget, waitUntil } from "./kit.ts";
import { sumChecks } from "./ledger.ts";
import { Publisher } from "./publisher.ts";

/** Options of {@link runFrozenClient}. */
export interface FrozenClientOptions {
  /** Clients inside the frozen child. */
  clients: number;
  /** How long the child stays frozen, ms (longer than the server's idle timeout). */
  freezeMs: number;
  /** Publications per second meanwhile. */
  rate: number;
}

/** CI size. */
export const CI_FROZEN_CLIENT: FrozenClientOptions = { clients: 5, freezeMs: 6000, rate: 200 };

/** Server settings: a short idle timeout so a frozen peer is detected within the freeze, history deep enough to recover it. */
export const FROZEN_CLIENT_SERVER = { idleTimeoutMs: 2500, pingIntervalMs: 1000, historySize: 50_000, recoveryMaxCount: 50_000 } as const;

async function connections(target: HardTarget): Promise<number> {
  const res = await fetch(`${target.httpUrl}/health`);
  return ((await res.json()) as { connections: number }).connections;
}

/** Runs the scenario against `target` (started with {@link FROZEN_CLIENT_SERVER}). */
export async function runFrozenClient(target: HardTarget, options: FrozenClientOptions) {
  const topic = `frozen.${crypto.randomUUID().slice(0, 8)}`;
  // The bystander pings (it answers nothing else), so keep it alive past the idle timeout.
  const bystander = await Bystander.start(target, 50);
  const keepAlive = setInterval(() => bystander.client.send({ c: "WSE", t: "ping", p: { timestamp: Date.now() } }), 500);
  const child = await ChildClients.spawn({ url: target.wsUrl, token: await target.mintToken({ sub: "frozen" }, { expiresInSeconds: 3600 }), topic, clients: options.clients, baseDelay: 200 });
  const publisher = new Publisher([target], topic, options.rate);
  let connectionsFrozen = -1;
  let connectionsBefore = -1;
  let caughtUp = false;
  let final = { epoch: "", offset: -1 };
  let pub;
  try {
    await sleep(1000);
    connectionsBefore = await connections(target);
    child.freeze();
    await sleep(options.freezeMs);
    connectionsFrozen = await connections(target);
    child.resume();
    await waitUntil(() => child.readyAt.every((r) => r.length >= 2), 20_000, "every frozen client reconnected").catch(() => undefined);
    await sleep(1000);
  } finally {
    clearInterval(keepAlive);
    child.resume();
    pub = await publisher.stop();
  }
  final = await target.publish(topic, "final", {});
  caughtUp = await waitUntil(() => child.ledgers.every((l) => l.last(topic)?.offset === final.offset), 20_000, "every client at the final offset")
    .then(() => true)
    .catch(() => false);
  const sum = sumChecks(child.ledgers.map((l) => l.check(topic)));
  const by = await bystander.finish();
  const reconnected = child.readyAt.filter((r) => r.length >= 2).length;
  await child.stop();
  const released = connectionsFrozen === connectionsBefore - options.clients;
  const pass = released && reconnected === options.clients && caughtUp && sum.duplicates === 0 && sum.gaps === 0 && Object.keys(sum.discontinuities).length === 0 && sum.delivered === options.clients * (final.offset + 1) && by.problems.length === 0;
  return report("frozen-client", pass, {
    clients: options.clients,
    freezeMs: options.freezeMs,
    connectionsBefore,
    connectionsWhileFrozen: connectionsFrozen,
    released,
    reconnected,
    publisher: { published: pub.published + 1, failed: pub.failed, ratePerSecond: pub.ratePerSecond },
    finalOffset: final.offset,
    caughtUp,
    delivered: sum.delivered,
    duplicates: sum.duplicates,
    gaps: sum.gaps,
    discontinuities: sum.discontinuities,
    recoveryEvents: sum.recoveries,
    problems: sum.problems,
    bystander: by,
    childErrors: child.errors.slice(0, 5),
  });
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const target = await startHardTarget({ ...FROZEN_CLIENT_SERVER });
  try {
    const result = await runFrozenClient(target, { clients: arg("clients", 20), freezeMs: arg("freeze", 15_000), rate: arg("rate", 500) });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
