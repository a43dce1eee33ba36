import { describe, expect, test } from "bun:test";
import { loadConfig } from "./config.ts";
import { openBroker, redactUrl, startupSummary } from "./cli.ts";
import { silentLogger } from "./log.ts";

const listen = { url: "ws://127.0.0.1:5007/wse", hostname: "127.0.0.1", port: 5007 };
const config = (argv: string[], env: Record<string, string> = {}) => loadConfig({ argv, env, readFile: () => "" });

describe("startupSummary", () => {
  test("names auth, API, broker and features without secrets", () => {
    const c = config(["--jwt-secret", "s".repeat(40), "--api-key", "very-secret-key", "--no-presence"]);
    const summary = startupSummary(c, listen, "memory", "bun 1.4.5");
    expect(summary).toMatchObject({
      url: listen.url,
      http: "http://127.0.0.1:5007",
      auth: "HS256",
      api: "enabled",
      broker: "memory",
      recovery: true,
      presence: false,
      client_publish: false,
    });
    expect(JSON.stringify(summary)).not.toContain("very-secret-key");
    expect(JSON.stringify(summary)).not.toContain("s".repeat(40));
  });

  test("development mode, JWKS and IPv6", () => {
    expect(startupSummary(config([]), listen, "memory", "x").auth).toBe("none (development mode)");
    expect(startupSummary(config([]), listen, "memory", "x").api).toBe("disabled (no API key)");
    expect(startupSummary(config(["--jwks-url", "http://127.0.0.1/jwks"]), listen, "memory", "x").auth).toBe("jwks");
    const v6 = startupSummary(config([]), { url: "ws://[::1]:1/wse", hostname: "::1", port: 1 }, "memory", "x");
    expect(v6.http).toBe("http://[::1]:1");
  });
});

describe("redactUrl", () => {
  test("hides passwords", () => {
    expect(redactUrl("redis://user:pw@host:6379/0")).toBe("redis://user:***@host:6379/0");
    expect(redactUrl("redis://host:6379")).toBe("redis://host:6379");
    expect(redactUrl("not a url")).toBe("(invalid url)");
  });
});

describe("openBroker", () => {
  test("no --redis → the server's own memory broker", async () => {
    expect(await openBroker(config([]), silentLogger)).toEqual({ broker: undefined, kind: "memory" });
  });
});
