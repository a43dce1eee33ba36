import { describe, expect, test } from "bun:test";
import { ConfigError, helpText, loadConfig, parseFlags, SETTINGS } from "./config.ts";

const files: Record<string, string> = {};
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: ${path}`);
  return text;
};
const load = (argv: string[] = [], env: Record<string, string> = {}) => loadConfig({ argv, env, readFile });

describe("defaults", () => {
  test("nothing given → empty options (createServer applies its defaults)", () => {
    const config = load();
    expect(config.options).toEqual({});
    expect(config.redisUrl).toBeUndefined();
    expect(config.demo).toBe(false);
    expect(config.demoDir).toBeUndefined();
    expect(config.logLevel).toBe("info");
    expect(config.help).toBe(false);
  });
});

describe("environment", () => {
  test("the documented variables", () => {
    const config = load([], {
      WSE_HOST: "127.0.0.1",
      WSE_PORT: "6000",
      WSE_PATH: "/ws",
      WSE_JWT_SECRET: "s".repeat(40),
      WSE_JWT_ALGORITHM: "HS512",
      WSE_JWT_ISSUER: "iss",
      WSE_JWT_AUDIENCE: "a,b",
      WSE_JWT_KID: "k1",
      WSE_JWKS_URL: "http://127.0.0.1:1/jwks",
      WSE_API_KEY: "key",
      WSE_RECOVERY: "off",
      WSE_PRESENCE: "false",
      WSE_MAX_CONNECTIONS: "10",
      WSE_REDIS_URL: "redis://127.0.0.1:6379",
      WSE_CLIENT_PUBLISH: "true",
      WSE_PING_INTERVAL_MS: "500",
      WSE_IDLE_TIMEOUT_MS: "1500",
      WSE_RATE_LIMIT_CAPACITY: "20",
      WSE_RATE_LIMIT_REFILL: "5",
      WSE_HISTORY_SIZE: "8",
      WSE_HISTORY_TTL_MS: "60000",
      WSE_RECOVERY_MAX: "4",
      WSE_BACKPRESSURE_LIMIT: "65536",
      WSE_DRAIN_TIMEOUT_MS: "2000",
      WSE_LOG_LEVEL: "debug",
    });
    expect(config.options).toEqual({
      host: "127.0.0.1",
      port: 6000,
      path: "/ws",
      jwt: {
        secret: "s".repeat(40),
        algorithms: ["HS512"],
        issuer: "iss",
        audience: ["a", "b"],
        requireKid: ["k1"],
        jwksUrl: "http://127.0.0.1:1/jwks",
      },
      apiKey: "key",
      recovery: false,
      presence: false,
      maxConnections: 10,
      clientPublish: true,
      pingIntervalMs: 500,
      idleTimeoutMs: 1500,
      rateLimit: { capacity: 20, refillPerSecond: 5 },
      history: { size: 8, ttlMs: 60000, maxRecovery: 4 },
      backpressureLimit: 65536,
      drain: { timeoutMs: 2000 },
    });
    expect(config.redisUrl).toBe("redis://127.0.0.1:6379");
    expect(config.logLevel).toBe("debug");
  });

  test("empty variables count as unset", () => {
    expect(load([], { WSE_PORT: "", WSE_API_KEY: "  " }).options).toEqual({});
  });

  test("bad values name the variable", () => {
    expect(() => load([], { WSE_PORT: "abc" })).toThrow("WSE_PORT: expected a non-negative integer");
    expect(() => load([], { WSE_PORT: "-1" })).toThrow(ConfigError);
    expect(() => load([], { WSE_RECOVERY: "maybe" })).toThrow('WSE_RECOVERY: expected true/false, got "maybe"');
    expect(() => load([], { WSE_LOG_LEVEL: "loud" })).toThrow("log level must be one of");
  });
});

describe("HTTP API settings", () => {
  test("metrics token, metrics topics and batch limits from the environment, flags and a file", () => {
    expect(
      load([], { WSE_METRICS_TOKEN: "m-token", WSE_METRICS_TOPICS: "0", WSE_BATCH_MAX_MESSAGES: "50", WSE_BATCH_MAX_BYTES: "65536" }).options,
    ).toEqual({ metricsToken: "m-token", metricsTopicLimit: 0, publishBatch: { maxMessages: 50, maxBytes: 65536 } });
    expect(load(["--metrics-token", "f-token", "--metrics-topics", "10", "--batch-max-messages=20"]).options).toEqual({
      metricsToken: "f-token",
      metricsTopicLimit: 10,
      publishBatch: { maxMessages: 20 },
    });
    files["/http.json"] = JSON.stringify({ metricsToken: "file-token", publishBatch: { maxBytes: 1024 } });
    expect(load(["--config", "/http.json"]).options).toEqual({ metricsToken: "file-token", publishBatch: { maxBytes: 1024 } });
    expect(() => load([], { WSE_BATCH_MAX_MESSAGES: "many" })).toThrow("WSE_BATCH_MAX_MESSAGES");
  });
});

describe("flags", () => {
  test("--name value, --name=value, booleans and negation", () => {
    const config = load(["--port", "7000", "--host=::1", "--no-recovery", "--presence", "--client-publish=false", "--demo", "--redis", "redis://r:1"]);
    expect(config.options).toEqual({ port: 7000, host: "::1", recovery: false, presence: true, clientPublish: false });
    expect(config.demo).toBe(true);
    expect(config.redisUrl).toBe("redis://r:1");
  });

  test("token expiry closing can be turned off by flag, environment or file", () => {
    expect(load(["--no-jwt-close-on-expiry"]).options).toEqual({ jwt: { closeOnExpiry: false } });
    expect(load([], { WSE_JWT_CLOSE_ON_EXPIRY: "false" }).options).toEqual({ jwt: { closeOnExpiry: false } });
    files["/expiry.json"] = JSON.stringify({ jwt: { closeOnExpiry: false } });
    expect(load(["--config", "/expiry.json"]).options).toEqual({ jwt: { closeOnExpiry: false } });
  });

  test("a boolean flag followed by a boolean word consumes it", () => {
    expect(load(["--recovery", "false", "--port", "1"]).options).toEqual({ recovery: false, port: 1 });
  });

  test("--demo-dir implies --demo", () => {
    const config = load(["--demo-dir", "site"]);
    expect(config.demo).toBe(true);
    expect(config.demoDir).toBe("site");
  });

  test("help and version", () => {
    expect(load(["--help"]).help).toBe(true);
    expect(load(["-h"]).help).toBe(true);
    expect(load(["--version"]).version).toBe(true);
  });

  test("mistakes are clear errors", () => {
    expect(() => load(["--prot", "1"])).toThrow("unknown flag --prot (did you mean --port?)");
    expect(() => load(["--port"])).toThrow("flag --port needs a value");
    expect(() => load(["--port", "--host", "x"])).toThrow("flag --port needs a value");
    expect(() => load(["5007"])).toThrow('unexpected argument "5007"');
    expect(() => load(["--no-port"])).toThrow("unknown flag --no-port");
    expect(() => load(["--no-recovery=1"])).toThrow("takes no value");
    expect(() => parseFlags(["--jwt-algorithm", ""])).not.toThrow();
    expect(() => load(["--jwt-algorithm", ""])).toThrow("--jwt-algorithm: expected at least one value");
  });
});

describe("config file and precedence", () => {
  files["/etc/wse.json"] = JSON.stringify({
    port: 5100,
    host: "10.0.0.1",
    jwt: { issuer: "file-iss", secret: "f".repeat(40) },
    rateLimit: { capacity: 50 },
    origins: ["https://a.example", "https://b.example"],
    redis: "redis://file:6379",
    demo: true,
    logLevel: "warn",
  });

  test("file values load, nested groups included", () => {
    const config = load(["--config", "/etc/wse.json"]);
    expect(config.options).toEqual({
      port: 5100,
      host: "10.0.0.1",
      jwt: { issuer: "file-iss", secret: "f".repeat(40) },
      rateLimit: { capacity: 50 },
      origins: ["https://a.example", "https://b.example"],
    });
    expect(config.redisUrl).toBe("redis://file:6379");
    expect(config.demo).toBe(true);
    expect(config.logLevel).toBe("warn");
    expect(config.configPath).toBe("/etc/wse.json");
  });

  test("flags > env > file > defaults", () => {
    const config = load(["--config=/etc/wse.json", "--port", "1111"], { WSE_PORT: "2222", WSE_HOST: "envhost", WSE_JWT_ISSUER: "env-iss" });
    expect(config.options.port).toBe(1111);
    expect(config.options.host).toBe("envhost");
    expect(config.options.jwt).toEqual({ issuer: "env-iss", secret: "f".repeat(40) });
    expect(config.options.rateLimit).toEqual({ capacity: 50 });
  });

  test("WSE_CONFIG names the file too", () => {
    expect(load([], { WSE_CONFIG: "/etc/wse.json" }).options.port).toBe(5100);
  });

  test("file mistakes are clear errors", () => {
    files["/bad.json"] = "{ port: 1 }";
    files["/array.json"] = "[]";
    files["/typo.json"] = JSON.stringify({ prot: 1 });
    files["/typo2.json"] = JSON.stringify({ jwt: { isuer: "x" } });
    files["/type.json"] = JSON.stringify({ port: "many" });
    files["/group.json"] = JSON.stringify({ jwt: "x" });
    expect(() => load(["--config", "/missing.json"])).toThrow("cannot read config file /missing.json");
    expect(() => load(["--config", "/bad.json"])).toThrow("is not valid JSON");
    expect(() => load(["--config", "/array.json"])).toThrow("must hold a JSON object");
    expect(() => load(["--config", "/typo.json"])).toThrow('unknown key "prot" (did you mean port?)');
    expect(() => load(["--config", "/typo2.json"])).toThrow('unknown key "jwt.isuer" (did you mean jwt.issuer?)');
    expect(() => load(["--config", "/type.json"])).toThrow("/type.json: port: expected a non-negative integer");
    expect(() => load(["--config", "/group.json"])).toThrow('"jwt" must be an object');
  });
});

describe("public key", () => {
  const pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
  test("PEM text is taken as is, anything else is a file path", () => {
    files["/keys/pub.pem"] = pem;
    expect(load([], { WSE_JWT_PUBLIC_KEY: pem }).options.jwt?.publicKey).toBe(pem);
    expect(load(["--jwt-public-key", "/keys/pub.pem"]).options.jwt?.publicKey).toBe(pem);
    expect(() => load(["--jwt-public-key", "/keys/none.pem"])).toThrow("not PEM text and not a readable file");
  });
});

describe("help", () => {
  test("documents every flag and variable", () => {
    const text = helpText();
    for (const s of SETTINGS) {
      expect(text).toContain(s.flag);
      expect(text).toContain(s.env);
    }
    for (const name of ["WSE_HOST", "WSE_PORT", "WSE_PATH", "WSE_JWT_SECRET", "WSE_JWT_ALGORITHM", "WSE_JWT_ISSUER", "WSE_JWT_AUDIENCE", "WSE_JWKS_URL", "WSE_API_KEY", "WSE_RECOVERY", "WSE_PRESENCE", "WSE_MAX_CONNECTIONS", "WSE_REDIS_URL"]) {
      expect(text).toContain(name);
    }
    expect(text).toContain("--config");
  });

  test("flags, env names and keys are unique", () => {
    for (const field of ["flag", "env", "key"] as const) {
      expect(new Set(SETTINGS.map((s) => s[field])).size).toBe(SETTINGS.length);
    }
  });
});
