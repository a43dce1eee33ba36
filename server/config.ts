/**
 * Standalone server configuration: command-line flags, environment variables (`WSE_*`) and an
 * optional JSON config file (`--config path`), merged with the precedence
 * flags > environment > config file > built-in defaults. Runtime-free: the caller passes argv,
 * the environment and a file reader, so Bun (`server/main.ts`) and Deno (`server/deno.ts`) share it.
 *
 * Every setting is one row of `SETTINGS` (flag, env variable, config-file key, type, help), which
 * also generates `--help`.
 *
 * @example
 * ```ts
 * const config = loadConfig({ argv: ["--port", "8080"], env: { WSE_API_KEY: "k" }, readFile });
 * config.options.port; // 8080
 * ```
 *
 * @module
 */
import { DEFAULTS, type ServerOptions } from "./options.ts";
import { isLogLevel, LOG_LEVELS, type LogLevel } from "./log.ts";

/** How a setting's text is read. */
export type SettingType = "string" | "int" | "bool" | "list" | "secret";

/** One configurable setting. */
export interface Setting {
  /** Dotted key in the config file and in `ServerOptions` (`rateLimit.capacity`), or a CLI key. */
  key: string;
  /** Flag name without dashes (`rate-limit-capacity`). */
  flag: string;
  /** Environment variable. */
  env: string;
  /** Value type. */
  type: SettingType;
  /** One-line description for `--help`. */
  help: string;
  /** Default shown in `--help`. */
  default?: string;
  /** True for settings of the CLI itself rather than `ServerOptions`. */
  cli?: boolean;
}

/** Every setting of the standalone server. */
export const SETTINGS: readonly Setting[] = [
  { key: "host", flag: "host", env: "WSE_HOST", type: "string", help: "Bind address", default: DEFAULTS.host },
  { key: "port", flag: "port", env: "WSE_PORT", type: "int", help: "Bind port (0 = any free port)", default: String(DEFAULTS.port) },
  { key: "path", flag: "path", env: "WSE_PATH", type: "string", help: "WebSocket path", default: DEFAULTS.path },
  { key: "jwt.secret", flag: "jwt-secret", env: "WSE_JWT_SECRET", type: "secret", help: "HMAC secret (>= 32 bytes); enables JWT auth" },
  { key: "jwt.previousSecret", flag: "jwt-previous-secret", env: "WSE_JWT_PREVIOUS_SECRET", type: "secret", help: "Previous HMAC secret, still accepted (rotation)" },
  { key: "jwt.publicKey", flag: "jwt-public-key", env: "WSE_JWT_PUBLIC_KEY", type: "string", help: "PEM public key (RS256/ES256/EdDSA): the PEM text or a file path" },
  { key: "jwt.jwksUrl", flag: "jwks-url", env: "WSE_JWKS_URL", type: "string", help: "JWKS URL (keys fetched and cached); enables JWT auth" },
  { key: "jwt.algorithms", flag: "jwt-algorithm", env: "WSE_JWT_ALGORITHM", type: "list", help: "Allowed algorithm(s): HS256,HS384,HS512,RS256,ES256,EdDSA", default: "HS256 with a secret; by key type otherwise" },
  { key: "jwt.issuer", flag: "jwt-issuer", env: "WSE_JWT_ISSUER", type: "string", help: "Required iss claim" },
  { key: "jwt.audience", flag: "jwt-audience", env: "WSE_JWT_AUDIENCE", type: "list", help: "Accepted aud value(s)" },
  { key: "jwt.requireKid", flag: "jwt-kid", env: "WSE_JWT_KID", type: "list", help: "Required kid header value(s)" },
  { key: "jwt.leewaySeconds", flag: "jwt-leeway", env: "WSE_JWT_LEEWAY", type: "int", help: "Clock leeway on exp/nbf, seconds", default: "30" },
  { key: "jwt.closeOnExpiry", flag: "jwt-close-on-expiry", env: "WSE_JWT_CLOSE_ON_EXPIRY", type: "bool", help: "Close a connection when its token expires (AUTH_FAILED, close 4401)", default: "true" },
  { key: "cookieName", flag: "cookie-name", env: "WSE_COOKIE_NAME", type: "string", help: "Cookie read for the token first", default: DEFAULTS.cookieName },
  { key: "allowQueryToken", flag: "query-token", env: "WSE_QUERY_TOKEN", type: "bool", help: "Accept ?token= in the URL", default: "true" },
  { key: "origins", flag: "origins", env: "WSE_ORIGINS", type: "list", help: "Allowed Origin values (comma list, * = any)", default: "any" },
  { key: "apiKey", flag: "api-key", env: "WSE_API_KEY", type: "secret", help: "Bearer key for /api/*; without it /api/* answers 403" },
  { key: "metricsToken", flag: "metrics-token", env: "WSE_METRICS_TOKEN", type: "secret", help: "Bearer token GET /metrics requires; without it /metrics is open" },
  { key: "metricsTopicLimit", flag: "metrics-topics", env: "WSE_METRICS_TOPICS", type: "int", help: "Per-topic series in /metrics (0 = no topic names)", default: String(DEFAULTS.metricsTopicLimit) },
  { key: "publishBatch.maxMessages", flag: "batch-max-messages", env: "WSE_BATCH_MAX_MESSAGES", type: "int", help: "Messages per POST /api/publish/batch", default: String(DEFAULTS.publishBatch.maxMessages) },
  { key: "publishBatch.maxBytes", flag: "batch-max-bytes", env: "WSE_BATCH_MAX_BYTES", type: "int", help: "Largest POST /api/publish/batch body, bytes", default: String(DEFAULTS.publishBatch.maxBytes) },
  { key: "recovery", flag: "recovery", env: "WSE_RECOVERY", type: "bool", help: "Message recovery", default: "true" },
  { key: "presence", flag: "presence", env: "WSE_PRESENCE", type: "bool", help: "Presence tracking", default: String(DEFAULTS.presence) },
  { key: "clientPublish", flag: "client-publish", env: "WSE_CLIENT_PUBLISH", type: "bool", help: "Let clients publish (ACL applies)", default: String(DEFAULTS.clientPublish) },
  { key: "maxConnections", flag: "max-connections", env: "WSE_MAX_CONNECTIONS", type: "int", help: "Concurrent connections; more get HTTP 503", default: String(DEFAULTS.maxConnections) },
  { key: "maxMessageSize", flag: "max-message-size", env: "WSE_MAX_MESSAGE_SIZE", type: "int", help: "Largest inbound frame / HTTP body, bytes", default: String(DEFAULTS.maxMessageSize) },
  { key: "maxTopicsPerConnection", flag: "max-topics", env: "WSE_MAX_TOPICS", type: "int", help: "Topics per connection", default: String(DEFAULTS.maxTopicsPerConnection) },
  { key: "compressionThreshold", flag: "compression-threshold", env: "WSE_COMPRESSION_THRESHOLD", type: "int", help: "Compress outbound JSON above this many bytes", default: String(DEFAULTS.compressionThreshold) },
  { key: "pingIntervalMs", flag: "ping-interval", env: "WSE_PING_INTERVAL_MS", type: "int", help: "Server ping interval, ms", default: String(DEFAULTS.pingIntervalMs) },
  { key: "idleTimeoutMs", flag: "idle-timeout", env: "WSE_IDLE_TIMEOUT_MS", type: "int", help: "Close 4000 after this long without inbound frames, ms", default: String(DEFAULTS.idleTimeoutMs) },
  { key: "rateLimit.capacity", flag: "rate-limit-capacity", env: "WSE_RATE_LIMIT_CAPACITY", type: "int", help: "Inbound token bucket size, messages", default: String(DEFAULTS.rateLimit.capacity) },
  { key: "rateLimit.refillPerSecond", flag: "rate-limit-refill", env: "WSE_RATE_LIMIT_REFILL", type: "int", help: "Inbound tokens per second", default: String(DEFAULTS.rateLimit.refillPerSecond) },
  { key: "rateLimit.abuseThreshold", flag: "rate-limit-abuse", env: "WSE_RATE_LIMIT_ABUSE", type: "int", help: "Dropped messages within 10 s that close 4429", default: String(DEFAULTS.rateLimit.abuseThreshold) },
  { key: "history.size", flag: "history-size", env: "WSE_HISTORY_SIZE", type: "int", help: "Publications kept per topic", default: String(DEFAULTS.history.size) },
  { key: "history.ttlMs", flag: "history-ttl", env: "WSE_HISTORY_TTL_MS", type: "int", help: "How long a publication stays recoverable, ms", default: String(DEFAULTS.history.ttlMs) },
  { key: "history.memoryBudget", flag: "history-memory", env: "WSE_HISTORY_MEMORY", type: "int", help: "Global history byte budget", default: String(DEFAULTS.history.memoryBudget) },
  { key: "history.maxRecovery", flag: "recovery-max", env: "WSE_RECOVERY_MAX", type: "int", help: "Most publications replayed per topic on recovery", default: String(DEFAULTS.history.maxRecovery) },
  { key: "backpressureLimit", flag: "backpressure-limit", env: "WSE_BACKPRESSURE_LIMIT", type: "int", help: "Outbound bytes buffered per connection before close 4008", default: String(DEFAULTS.backpressureLimit) },
  { key: "drain.timeoutMs", flag: "drain-timeout", env: "WSE_DRAIN_TIMEOUT_MS", type: "int", help: "Upper bound of the graceful drain on SIGTERM/SIGINT, ms", default: String(DEFAULTS.drain.timeoutMs) },
  { key: "drain.closeCode", flag: "drain-code", env: "WSE_DRAIN_CODE", type: "int", help: "Close code sent on drain (1012 restart, 4300 go elsewhere)", default: String(DEFAULTS.drain.closeCode) },
  { key: "redis", flag: "redis", env: "WSE_REDIS_URL", type: "string", help: "Redis URL: share fan-out, history and presence across nodes", default: "in-memory broker", cli: true },
  { key: "demo", flag: "demo", env: "WSE_DEMO", type: "bool", help: "Serve the demo page (client/demo/) at /demo/", default: "false", cli: true },
  { key: "demoDir", flag: "demo-dir", env: "WSE_DEMO_DIR", type: "string", help: "Serve this directory at /demo/ (implies --demo)", default: "client/demo", cli: true },
  { key: "logLevel", flag: "log-level", env: "WSE_LOG_LEVEL", type: "string", help: `Log level: ${LOG_LEVELS.join(", ")}`, default: "info", cli: true },
];

/** The merged configuration of the standalone server. */
export interface CliConfig {
  /** Options for `createServer`. */
  options: ServerOptions;
  /** Redis URL (`--redis` / `WSE_REDIS_URL`), when a shared broker is wanted. */
  redisUrl: string | undefined;
  /** Serve the demo page. */
  demo: boolean;
  /** Directory of the demo page (`--demo-dir`), when given. */
  demoDir: string | undefined;
  /** Log level. */
  logLevel: LogLevel;
  /** The config file that was read, if any. */
  configPath: string | undefined;
  /** `--help` was given. */
  help: boolean;
  /** `--version` was given. */
  version: boolean;
}

/** A configuration mistake; the message names the flag, variable or file key. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Inputs of `loadConfig`. */
export interface LoadConfigInput {
  /** Arguments after the program name. */
  argv: readonly string[];
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a text file (config file, PEM key); throws when it cannot. */
  readFile: (path: string) => string;
}

type Raw = string | boolean | string[] | number;

/** Parses argv into setting keys → raw values; also returns `--config`, `--help`, `--version`. */
export function parseFlags(argv: readonly string[]): {
  values: Map<string, Raw>;
  configPath?: string;
  help: boolean;
  version: boolean;
} {
  const byFlag = new Map(SETTINGS.map((s) => [s.flag, s]));
  const values = new Map<string, Raw>();
  let configPath: string | undefined;
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    if (arg === "-v" || arg === "--version") {
      version = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf("=");
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) throw new ConfigError(`flag --${name} needs a value`);
      i++;
      return next;
    };
    if (name === "config") {
      configPath = takeValue();
      continue;
    }
    let negated = false;
    if (!byFlag.has(name) && name.startsWith("no-") && byFlag.get(name.slice(3))?.type === "bool") {
      negated = true;
      name = name.slice(3);
      if (inline !== undefined) throw new ConfigError(`flag --no-${name} takes no value`);
    }
    const setting = byFlag.get(name);
    if (!setting) throw new ConfigError(`unknown flag --${name}${suggest(name)} (see --help)`);
    if (setting.type === "bool") {
      if (negated) values.set(setting.key, false);
      else if (inline !== undefined) values.set(setting.key, parseBool(inline, `--${name}`));
      else {
        const next = argv[i + 1];
        if (next !== undefined && BOOL_WORDS.has(next.toLowerCase())) {
          values.set(setting.key, parseBool(next, `--${name}`));
          i++;
        } else values.set(setting.key, true);
      }
      continue;
    }
    values.set(setting.key, takeValue());
  }
  return { values, configPath, help, version };
}

/** Merges defaults < config file < environment < flags into a `CliConfig`. */
export function loadConfig(input: LoadConfigInput): CliConfig {
  const flags = parseFlags(input.argv);
  const envValues = readEnv(input.env);
  const configPath = flags.configPath ?? emptyToUndefined(input.env.WSE_CONFIG);
  const fileValues = configPath ? readConfigFile(configPath, input.readFile) : new Map<string, unknown>();

  const options: Record<string, unknown> = {};
  let redisUrl: string | undefined;
  let demo = false;
  let demoDir: string | undefined;
  let logLevel: LogLevel = "info";
  for (const setting of SETTINGS) {
    let value: unknown;
    let source: string;
    if (flags.values.has(setting.key)) {
      value = convert(setting, flags.values.get(setting.key)!, `--${setting.flag}`);
      source = `--${setting.flag}`;
    } else if (envValues.has(setting.key)) {
      value = convert(setting, envValues.get(setting.key)!, setting.env);
      source = setting.env;
    } else if (fileValues.has(setting.key)) {
      value = convert(setting, fileValues.get(setting.key) as Raw, `${configPath}: ${setting.key}`);
      source = `${configPath}: ${setting.key}`;
    } else continue;

    if (setting.key === "jwt.publicKey") value = readPublicKey(value as string, input.readFile, source);
    if (setting.key === "redis") redisUrl = value as string;
    else if (setting.key === "demo") demo = value as boolean;
    else if (setting.key === "demoDir") demoDir = value as string;
    else if (setting.key === "logLevel") {
      if (!isLogLevel(value)) throw new ConfigError(`${source}: log level must be one of ${LOG_LEVELS.join(", ")}`);
      logLevel = value;
    } else setPath(options, setting.key, value);
  }
  return {
    options: options as ServerOptions,
    redisUrl,
    demo: demo || demoDir !== undefined,
    demoDir,
    logLevel,
    configPath,
    help: flags.help,
    version: flags.version,
  };
}

/** The `--help` text, generated from `SETTINGS`. */
export function helpText(program = "wse-server"): string {
  const lines = [
    `Usage: ${program} [flags]`,
    "",
    "WSE real-time WebSocket server. Precedence: flags > environment > config file > defaults.",
    "Boolean flags accept --name, --no-name, --name=true|false; environment booleans accept",
    "true/false, 1/0, yes/no, on/off. Lists are comma-separated.",
    "",
    "  --config <path>                      JSON config file (env WSE_CONFIG); keys as in the",
    '                                       server options, e.g. {"port": 8080, "jwt": {"issuer": "me"}}',
    "  -h, --help                           Show this help",
    "  -v, --version                        Print the version",
    "",
  ];
  for (const s of SETTINGS) {
    const flag = s.type === "bool" ? `--[no-]${s.flag}` : `--${s.flag} <${s.type === "int" ? "n" : s.type === "list" ? "a,b" : "value"}>`;
    const left = `  ${flag}`.padEnd(39);
    const def = s.default !== undefined ? ` (default: ${s.default})` : "";
    lines.push(`${left}${s.help}${def}`, `${"".padEnd(39)}env ${s.env}; file key "${s.key}"`);
  }
  lines.push(
    "",
    "HTTP: GET /health, GET /metrics (Prometheus), /api/* with Authorization: Bearer <api key>:",
    "POST /api/publish, POST /api/broadcast, POST /api/disconnect, GET /api/presence/:topic,",
    "GET /api/history/:topic?epoch=&since=.",
  );
  return lines.join("\n");
}

const BOOL_WORDS = new Map<string, boolean>([
  ["true", true], ["1", true], ["yes", true], ["on", true],
  ["false", false], ["0", false], ["no", false], ["off", false],
]);

function parseBool(text: string, where: string): boolean {
  const value = BOOL_WORDS.get(text.trim().toLowerCase());
  if (value === undefined) throw new ConfigError(`${where}: expected true/false, got ${JSON.stringify(text)}`);
  return value;
}

function readEnv(env: Readonly<Record<string, string | undefined>>): Map<string, Raw> {
  const values = new Map<string, Raw>();
  for (const setting of SETTINGS) {
    const text = emptyToUndefined(env[setting.env]);
    if (text !== undefined) values.set(setting.key, text);
  }
  return values;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function convert(setting: Setting, raw: Raw | unknown, where: string): unknown {
  switch (setting.type) {
    case "string":
    case "secret":
      if (typeof raw !== "string" || raw.length === 0) throw new ConfigError(`${where}: expected a non-empty string`);
      return raw;
    case "int": {
      if (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0) return raw;
      if (typeof raw === "string" && /^\d{1,15}$/.test(raw.trim())) return Number(raw.trim());
      throw new ConfigError(`${where}: expected a non-negative integer, got ${JSON.stringify(raw)}`);
    }
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string") return parseBool(raw, where);
      throw new ConfigError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
    case "list": {
      const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : null;
      if (!items || !items.every((x) => typeof x === "string")) throw new ConfigError(`${where}: expected a list of strings`);
      const list = (items as string[]).map((x) => x.trim()).filter((x) => x.length > 0);
      if (list.length === 0) throw new ConfigError(`${where}: expected at least one value`);
      return list;
    }
  }
}

function readConfigFile(path: string, readFile: (path: string) => string): Map<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new ConfigError(`config file ${path} must hold a JSON object`);
  const known = new Set(SETTINGS.map((s) => s.key));
  const groups = new Set(SETTINGS.filter((s) => s.key.includes(".")).map((s) => s.key.split(".")[0]!));
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (groups.has(key)) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`config file ${path}: "${key}" must be an object`);
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
        const full = `${key}.${inner}`;
        if (!known.has(full)) throw new ConfigError(`config file ${path}: unknown key "${full}"${suggest(full, "key")}`);
        values.set(full, innerValue);
      }
    } else if (known.has(key)) values.set(key, value);
    else throw new ConfigError(`config file ${path}: unknown key "${key}"${suggest(key, "key")}`);
  }
  return values;
}

function readPublicKey(value: string, readFile: (path: string) => string, source: string): string {
  if (value.includes("-----BEGIN")) return value;
  try {
    return readFile(value);
  } catch (error) {
    throw new ConfigError(`${source}: not PEM text and not a readable file (${error instanceof Error ? error.message : String(error)})`);
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function suggest(name: string, kind: "flag" | "key" = "flag"): string {
  const candidates = SETTINGS.map((s) => (kind === "flag" ? s.flag : s.key));
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean ${kind === "flag" ? "--" : ""}${best}?)` : "";
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
