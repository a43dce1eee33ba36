/**
 * Runs the conformance suite (`test/conformance/*.test.ts`) against the upstream WSE 2.x server:
 * one fresh `upstream_server.py` per test file (so one file's abuse cannot poison the next),
 * tokens by bearer header (upstream has no `?token=`), publishing through the host's HTTP API.
 *
 * Usage: `bun test/interop/conformance-upstream.ts [--json out.json] [file ...]`
 * Prints per file the passing, failing and skipped tests, and writes them as JSON when asked.
 * The classification of each difference lives in docs/COMPATIBILITY.md.
 *
 * @module
 */
import { readdirSync, writeFileSync } from "node:fs";
import { startUpstream } from "./upstream-host.ts";

const REPO = new URL("../../", import.meta.url).pathname;

/** Outcome of one conformance file against a fresh upstream host. */
export interface FileResult {
  file: string;
  pass: string[];
  fail: string[];
  skip: string[];
  /** For each failing test, the error lines bun printed before it. */
  why: Record<string, string>;
  seconds: number;
}

/** Runs one conformance file (`test/conformance/x.test.ts`) against a fresh upstream host. */
export async function runAgainstUpstream(file: string): Promise<FileResult> {
  const host = await startUpstream();
  const started = performance.now();
  try {
    const proc = Bun.spawn([process.execPath, "test", file], {
      cwd: REPO,
      env: {
        ...process.env,
        WSE_CONFORMANCE_URL: host.wsUrl,
        WSE_CONFORMANCE_HTTP: host.httpUrl,
        WSE_CONFORMANCE_JWT_SECRET: host.secret,
        WSE_CONFORMANCE_API_KEY: host.apiKey,
        WSE_CONFORMANCE_TOKEN_VIA: "bearer",
        WSE_CONFORMANCE_CAPS: "presence",
        FORCE_COLOR: "0",
        NO_COLOR: "1",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    await proc.exited;
    const result: FileResult = { file, pass: [], fail: [], skip: [], why: {}, seconds: 0 };
    let buffer: string[] = [];
    for (const line of `${out}\n${err}`.split("\n")) {
      const m = line.match(/^\((pass|fail|skip)\) (.+?)(?: \[[\d.]+m?s\])?$/);
      if (!m) {
        buffer.push(line);
        continue;
      }
      const name = m[2]!;
      result[m[1] as "pass" | "fail" | "skip"].push(name);
      if (m[1] === "fail") {
        result.why[name] = buffer.filter((l) => /error|expect|Expected|Received|timed out|socket/i.test(l)).slice(-6).join("\n");
      }
      buffer = [];
    }
    result.seconds = Math.round((performance.now() - started) / 100) / 10;
    return result;
  } finally {
    await host.stop();
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf("--json");
  const jsonOut = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  const picked = args.filter((a, i) => !a.startsWith("--") && (jsonAt < 0 || i !== jsonAt + 1));
  const files = picked.length
    ? picked
    : readdirSync(`${REPO}test/conformance`).filter((f) => f.endsWith(".test.ts")).sort().map((f) => `test/conformance/${f}`);
  const results: FileResult[] = [];
  for (const file of files) {
    const result = await runAgainstUpstream(file);
    results.push(result);
    console.log(`\n## ${file}: ${result.pass.length} pass, ${result.fail.length} fail, ${result.skip.length} skip (${result.seconds}s)`);
    for (const name of result.fail) console.log(`  FAIL ${name}\n    ${(result.why[name] ?? "").split("\n").join("\n    ")}`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
  const total = (k: "pass" | "fail" | "skip") => results.reduce((n, r) => n + r[k].length, 0);
  console.log(`\nupstream conformance: ${total("pass")} pass, ${total("fail")} fail, ${total("skip")} skip`);
}
