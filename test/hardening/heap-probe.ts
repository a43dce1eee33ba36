/**
 * Heap probe: tells a leak from a lazy heap when the soak's RSS grows. It runs the server
 * in this process (`createServer`), drives it with the soak (`scripts/soak.ts` in a child
 * process, pointed here through the conformance suite's external-target variables), and every
 * sample forces a full garbage collection and prints the live heap size, object count and the
 * object types whose counts grew most since the first sample. A flat live heap with a growing
 * RSS is allocator/GC behaviour; a growing live heap names what is kept.
 *
 * ```sh
 * bun test/hardening/heap-probe.ts [--minutes 4] [--connections 1000] [--sample-sec 20]
 * ```
 *
 * @module
 */
import { heapStats } from "bun:jsc";
import { createServer } from "../../server/mod.ts";
import { freePort, randomSecret } from "../conformance/target.ts";
import { mib, rssKiB } from "./kit.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const minutes = arg("minutes", 4);
const connections = arg("connections", 1000);
const sampleSec = arg("sample-sec", 20);

const apiKey = `probe-${randomSecret()}`;
const secret = randomSecret();
const port = await freePort();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const server = createServer({ host: "127.0.0.1", port, apiKey, jwt: { secret }, logger: quiet as never });
await server.listen();

const child = Bun.spawn(
  [process.execPath, new URL("../../scripts/soak.ts", import.meta.url).pathname, "--connections", String(connections), "--minutes", String(minutes), "--warmup-sec", "30", "--topics", "50", "--rate", "200", "--sample-sec", "10"],
  {
    env: { ...process.env, WSE_CONFORMANCE_URL: `ws://127.0.0.1:${port}/wse`, WSE_CONFORMANCE_API_KEY: apiKey, WSE_CONFORMANCE_JWT_SECRET: secret },
    stdout: "inherit",
    stderr: "inherit",
  },
);

function sample(): { heapMiB: number; objects: number; types: Record<string, number> } {
  Bun.gc(true);
  const s = heapStats();
  return { heapMiB: Math.round((s.heapSize / 1048576) * 10) / 10, objects: s.objectCount, types: s.objectTypeCounts as Record<string, number> };
}

const first = sample();
const started = Date.now();
let done = false;
void child.exited.then(() => (done = true));
while (!done) {
  await Bun.sleep(sampleSec * 1000);
  const now = sample();
  const grown = Object.entries(now.types)
    .map(([t, n]) => [t, n - (first.types[t] ?? 0)] as const)
    .filter(([, d]) => d > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([t, d]) => `${t}+${d}`);
  console.warn(`[heap-probe] t=${Math.round((Date.now() - started) / 1000)}s rss=${mib(rssKiB(process.pid))}MiB liveHeap=${now.heapMiB}MiB objects=${now.objects} grown: ${grown.join(" ")}`);
}
await server.stop();
process.exit((await child.exited) ?? 1);
