/**
 * Runs every test suite of the project in turn and prints one summary line.
 *
 * Each suite is a command whose own runner prints pass/fail counts; this script parses them,
 * echoes the suite's output, and ends with `N passed, N failed`. A suite that exits non-zero
 * without reporting a failure counts as one failure, so a crash can never pass silently.
 *
 * Usage: `bun scripts/run-suites.ts [suite-name ...]` (no names = all suites).
 * @module
 */
import { existsSync } from "node:fs";
import { Glob } from "bun";

/** Counts parsed from one runner's output. */
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** One suite: a name, the command, and how to read its counts. */
interface Suite {
  name: string;
  cmd: string[] | null;
  parse: (out: string) => Counts | null;
  env?: Record<string, string>;
}

function files(pattern: string): string[] {
  const out: string[] = [];
  for (const f of new Glob(pattern).scanSync({ cwd: ".", onlyFiles: true })) {
    if (!f.includes("node_modules/") && !f.startsWith("target/")) out.push(f);
  }
  return out.sort();
}

function sumMatches(out: string, re: RegExp): number | null {
  let total: number | null = null;
  for (const m of out.matchAll(re)) total = (total ?? 0) + Number(m[1]);
  return total;
}

const parseBun = (out: string): Counts | null => {
  const passed = sumMatches(out, /^\s*(\d+) pass$/gm);
  const failed = sumMatches(out, /^\s*(\d+) fail$/gm);
  if (passed === null && failed === null) return null;
  return { passed: passed ?? 0, failed: failed ?? 0, skipped: sumMatches(out, /^\s*(\d+) skip$/gm) ?? 0 };
};

const parseDeno = (out: string): Counts | null => {
  const m = out.match(/(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/);
  return m ? { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) } : null;
};

const parseNode = (out: string): Counts | null => {
  const p = out.match(/^[#ℹ] pass (\d+)$/m);
  const f = out.match(/^[#ℹ] fail (\d+)$/m);
  const s = out.match(/^[#ℹ] skipped (\d+)$/m);
  return p || f ? { passed: Number(p?.[1] ?? 0), failed: Number(f?.[1] ?? 0), skipped: Number(s?.[1] ?? 0) } : null;
};

const parsePytest = (out: string): Counts | null => {
  const line = out.split("\n").reverse().find((l) => /\d+ (passed|failed|error)/.test(l));
  if (!line) return null;
  const n = (word: string) => Number(line.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
  return { passed: n("passed"), failed: n("failed") + n("errors?"), skipped: n("skipped") };
};

const parseCargo = (out: string): Counts | null => {
  const passed = sumMatches(out, /test result: \w+\. (\d+) passed/g);
  const failed = sumMatches(out, /test result: \w+\. \d+ passed; (\d+) failed/g);
  return passed === null ? null : { passed, failed: failed ?? 0, skipped: 0 };
};

const denoTests = files("**/*.deno-test.ts");
const nodeTests = files("**/*.node-test.ts");
const hasPytest = existsSync("test/interop") && existsSync(".venv/bin/pytest");

const suites: Suite[] = [
  {
    name: "wasm-check",
    cmd: existsSync("scripts/check-wasm.sh") && process.env.WSE_SKIP_WASM_CHECK !== "1" ? ["bash", "scripts/check-wasm.sh"] : null,
    parse: (out) => (/wasm check: OK/.test(out) ? { passed: 1, failed: 0, skipped: 0 } : null),
  },
  {
    name: "cargo",
    cmd: existsSync("wasm/Cargo.toml") ? ["bash", "scripts/cargo-test.sh"] : null,
    parse: parseCargo,
  },
  { name: "bun", cmd: ["bun", "test"], parse: parseBun },
  {
    name: "conformance-deno",
    cmd: ["bun", "test", "test/conformance/"],
    env: { WSE_CONFORMANCE_HOST: "deno" },
    parse: parseBun,
  },
  {
    name: "conformance-redis",
    cmd: ["bun", "test", "test/conformance/"],
    env: { WSE_CONFORMANCE_BROKER: "redis" },
    parse: parseBun,
  },
  { name: "deno", cmd: denoTests.length ? ["deno", "test", "-A", ...denoTests] : null, parse: parseDeno },
  {
    name: "node",
    cmd: nodeTests.length ? ["node", "--test", "--test-reporter=tap", ...nodeTests] : null,
    parse: parseNode,
  },
  { name: "pytest", cmd: hasPytest ? [".venv/bin/pytest", "-q", "test/interop"] : null, parse: parsePytest },
];

const only = new Set(process.argv.slice(2));
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const report: string[] = [];

for (const suite of suites) {
  if (only.size && !only.has(suite.name)) continue;
  if (!suite.cmd) {
    report.push(`${suite.name}: not present`);
    continue;
  }
  console.log(`\n===== suite ${suite.name}: ${suite.cmd.join(" ")}`);
  const started = performance.now();
  const proc = Bun.spawn(suite.cmd, {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", ...suite.env },
  });
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      out += text;
      sink.write(text);
    }
  };
  await Promise.all([pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)]);
  const code = await proc.exited;
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  const counts = suite.parse(plain) ?? { passed: 0, failed: 0, skipped: 0 };
  if (code !== 0 && counts.failed === 0) counts.failed = 1;
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  report.push(`${suite.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (exit ${code}, ${secs}s)`);
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
}

console.log("\n===== summary");
for (const line of report) console.log(line);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 ? 1 : 0);
