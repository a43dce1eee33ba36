import { describe, expect, test } from "bun:test";
import { createLogger, isLogLevel } from "./log.ts";

function capture(level?: "debug" | "info" | "warn" | "error" | "silent") {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l), now: () => new Date("2026-01-02T03:04:05.678Z"), base: { service: "wse" } });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

describe("createLogger", () => {
  test("one JSON object per line with ts, level, msg, base and fields", () => {
    const { log, lines, parsed } = capture();
    log.info("listening", { port: 5007 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(parsed()[0]).toEqual({ ts: "2026-01-02T03:04:05.678Z", level: "info", msg: "listening", service: "wse", port: 5007 });
  });

  test("level threshold", () => {
    const { log, parsed } = capture("warn");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(parsed().map((r) => r.level)).toEqual(["warn", "error"]);
    const silent = capture("silent");
    silent.log.error("x");
    expect(silent.lines).toHaveLength(0);
  });

  test("errors, bigints and bytes are serialized; cycles do not throw", () => {
    const { log, parsed } = capture();
    log.error("boom", { error: new TypeError("bad"), n: 10n, data: new Uint8Array(3) });
    const record = parsed()[0];
    expect(record.error.name).toBe("TypeError");
    expect(record.error.message).toBe("bad");
    expect(record.n).toBe("10");
    expect(record.data).toBe("<3 bytes>");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    log.info("cycle", { cyclic });
    expect(parsed()[1].note).toBe("log fields were not serializable");
  });

  test("a throwing sink is swallowed", () => {
    const log = createLogger({ write: () => { throw new Error("disk full"); } });
    expect(() => log.info("x")).not.toThrow();
  });

  test("isLogLevel", () => {
    expect(isLogLevel("debug")).toBe(true);
    expect(isLogLevel("verbose")).toBe(false);
    expect(isLogLevel(3)).toBe(false);
  });
});
