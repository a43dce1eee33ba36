/** The codec facade inside a `bun build --compile` executable (the wasm must be inlined). */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "wse-codec-exe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a compiled executable round-trips frames and rejects a zip bomb", async () => {
  const exe = join(dir, "codec-exe");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", join(import.meta.dir, "compiled-main.ts"), "--outfile", exe], {
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(build.stderr.toString()).not.toContain("error");
  expect(build.exitCode).toBe(0);
  // Run from an unrelated directory: nothing may be read from the checkout at run time.
  const run = Bun.spawn([exe], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const killer = setTimeout(() => run.kill(), 30_000);
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  clearTimeout(killer);
  expect(err).toBe("");
  expect(code).toBe(0);
  const result = JSON.parse(out.trim());
  expect(result).toEqual({
    roundTrips: [true, true, true],
    bombCode: "TOO_LARGE",
    dedupSeen: true,
    defaultBackend: result.defaultBackend,
    nativeRoundTrip: true,
  });
}, 120_000);
