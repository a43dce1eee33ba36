/**
 * Reads a V8/JSC `.cpuprofile` (what `bun --cpu-prof` writes) and summarises where the time
 * went: self time per function and per source file, largest first.
 *
 * @example
 * ```ts
 * import { summarizeProfile } from "./cpuprofile.ts";
 * const summary = summarizeProfile(JSON.parse(await Bun.file("x.cpuprofile").text()));
 * summary.functions[0]; // { name, location, selfMs, share }
 * ```
 * @module
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

/** The parts of a `.cpuprofile` this module reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One row of the summary. */
export interface HotSpot {
  name: string;
  location: string;
  selfMs: number;
  /** Share of all sampled time, 0–1. */
  share: number;
}

/** The summary. */
export interface ProfileSummary {
  /** Sampled wall time covered, ms. */
  totalMs: number;
  /** Time in idle / program / GC pseudo-frames, ms. */
  idleMs: number;
  gcMs: number;
  functions: HotSpot[];
  files: HotSpot[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return "(native)";
  const clean = url.replace(/^file:\/\//, "");
  return clean.startsWith(root) ? clean.slice(root.length) : clean;
}

/**
 * Samples to keep, as milliseconds before the end of the profile: `[nearest, farthest]`
 * (e.g. the measured runs ended 300 ms and began 6,000 ms before the process exited).
 */
export type WindowFromEnd = [number, number];

/** Summarises a profile; paths under `root` are shown relative to it. */
export function summarizeProfile(profile: CpuProfile, root = "", limit = 30, window?: WindowFromEnd): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window) {
      const beforeEndMs = (profile.endTime - at) / 1000;
      if (beforeEndMs < window[0] || beforeEndMs > window[1]) continue;
    }
    const delta = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + delta);
    total += delta;
  }
  const functions = new Map<string, HotSpot>();
  const files = new Map<string, HotSpot>();
  let idleMs = 0;
  let gcMs = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)" || name === "(root)") {
      idleMs += ms;
      continue;
    }
    if (name === "(garbage collector)") gcMs += ms;
    const file = shortUrl(url, root);
    const location = url ? `${file}:${lineNumber + 1}` : file;
    const key = `${name}@${location}`;
    const f = functions.get(key) ?? { name, location, selfMs: 0, share: 0 };
    f.selfMs += ms;
    functions.set(key, f);
    const g = files.get(file) ?? { name: file, location: file, selfMs: 0, share: 0 };
    g.selfMs += ms;
    files.set(file, g);
  }
  const finish = (rows: Map<string, HotSpot>) =>
    [...rows.values()]
      .map((r) => ({ ...r, share: total ? r.selfMs / total : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, limit);
  return { totalMs: total, idleMs, gcMs, functions: finish(functions), files: finish(files) };
}
