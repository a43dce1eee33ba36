/**
 * The server under test. By default the suite spawns our standalone server (`bun server/main.ts`,
 * or `deno run -A server/deno.ts` with `WSE_CONFORMANCE_HOST=deno`) on a free loopback port with
 * the settings a test file asks for. With `WSE_CONFORMANCE_URL` it talks to an already running
 * server instead (our hosts elsewhere, or the upstream Python wse-server), and tests that need a
 * setting that server was not started with are skipped with a printed reason.
 *
 * External target environment:
 * - `WSE_CONFORMANCE_URL`        WebSocket URL, e.g. `ws://127.0.0.1:5007/wse`
 * - `WSE_CONFORMANCE_HTTP`       HTTP base URL (default: derived from the WebSocket URL)
 * - `WSE_CONFORMANCE_JWT_SECRET` HS256 secret the server verifies (enables token tests)
 * - `WSE_CONFORMANCE_API_KEY`    API key for `/api/*` (enables publishing)
 * - `WSE_CONFORMANCE_CAPS`       comma list of extra capabilities the server was started with
 *                                (see {@link Capability})
 * Spawned servers use the memory broker unless `WSE_CONFORMANCE_BROKER=redis`: then each gets its
 * own throwaway `redis-server` (kept across `restart()`, so history survives it).
 *
 * - `WSE_CONFORMANCE_TOKEN_VIA`  how tests present tokens: `query` (default), `cookie`, `bearer`
 *                                (the upstream 2.x server has no `?token=`)
 *
 * @module
 */
import { createServer as createNetServer } from "node:net";
import { SignJWT, type JWTPayload } from "jose";
import { sleep } from "./wire.ts";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";

/** Settings a test file may ask of the server; each maps to a CLI flag or env variable. */
export interface TargetConfig {
  /** HS256 secret; `null` runs the server without JWT (development mode). Default: a random 48-byte secret. */
  jwtSecret?: string | null;
  /** Required issuer. */
  jwtIssuer?: string;
  /** Required audience. */
  jwtAudience?: string;
  /** Required `kid` in the token header. */
  jwtKid?: string;
  /** JWKS URL (then tokens are RS256/ES256, verified against it). */
  jwksUrl?: string;
  /** Allowed Origin values (ext); absent = any. */
  origins?: string[];
  /** Message recovery (default on). */
  recovery?: boolean;
  /** Presence tracking (default on). */
  presence?: boolean;
  /** Client publish (default on). */
  clientPublish?: boolean;
  /** Server ping interval, ms. */
  pingIntervalMs?: number;
  /** Idle timeout, ms. */
  idleTimeoutMs?: number;
  /** Rate limit bucket capacity (messages). */
  rateLimitCapacity?: number;
  /** Rate limit refill (messages per second). */
  rateLimitRefill?: number;
  /** History entries kept per topic. */
  historySize?: number;
  /** History TTL per entry, ms. */
  historyTtlMs?: number;
  /** Recovery cap (publications replayed at most). */
  recoveryMaxCount?: number;
  /** Outbound buffered bytes per connection before the slow-consumer close. */
  backpressureLimitBytes?: number;
  /** Drain timeout on SIGTERM, ms. */
  drainTimeoutMs?: number;
  /**
   * What to run: the standalone CLI (default) or `snapshot-host.ts`, our server embedded with a
   * snapshot provider (only port, JWT secret and API key apply there).
   */
  entry?: "cli" | "snapshot-host";
  /** Further `WSE_*` variables for settings this interface does not name (see `--help`). */
  extraEnv?: Record<string, string>;
}

/**
 * Capabilities a test can require. A spawned target has all the base ones and the ones implied
 * by its config; an external target has those its environment names.
 */
export type Capability =
  | "spawned" // we own the process: restart, signals, stderr
  | "query-token" // the server accepts ?token= (ext)
  | "jwt" // we know the HS256 secret and can mint tokens
  | "api" // we know the API key and can publish over HTTP
  | "presence"
  | "client-publish"
  | "issuer-audience" // the server checks iss/aud as configured here
  | "kid" // the server requires the kid configured here
  | "jwks" // the server verifies against the JWKS configured here
  | "short-ping"
  | "short-idle"
  | "small-rate-limit"
  | "small-history"
  | "small-recovery-cap"
  | "small-backpressure"
  | "snapshot-provider" // the server's snapshot hook follows snapshot-host.ts's rules
  | "memory-broker"; // history lives in the server process (lost on restart)

/** Options for {@link Target.mintToken}. */
export interface MintOptions {
  /** Seconds until `exp`; negative for an expired token; `null` omits `exp`. Default 300. */
  expiresInSeconds?: number | null;
  /** Key id header; default: the configured kid. `null` omits it. */
  kid?: string | null;
  /** HMAC secret to sign with; default: the target's secret. */
  secret?: string | Uint8Array;
  /** Algorithm; default HS256. */
  alg?: string;
}

/** A running server the tests talk to. */
export interface Target {
  /** Human-readable name (for messages). */
  readonly name: string;
  /** WebSocket endpoint, e.g. `ws://127.0.0.1:40123/wse`. */
  readonly wsUrl: string;
  /** HTTP base URL, e.g. `http://127.0.0.1:40123`. */
  readonly httpUrl: string;
  /** The HS256 secret, when known. */
  readonly jwtSecret: string | null;
  /** What this target can do (see {@link Capability}). */
  readonly caps: ReadonlySet<Capability>;
  /** The config this target was started with (for spawned targets). */
  readonly config: TargetConfig;
  /** The capabilities among `wanted` this target lacks. */
  missing(...wanted: Capability[]): Capability[];
  /** Signs a token with the target's secret (HS256); `sub` defaults to `user-1`. */
  mintToken(claims?: JWTPayload, options?: MintOptions): Promise<string>;
  /** How tests present a token when the transport is not what they test. */
  readonly tokenVia: "query" | "cookie" | "bearer";
  /** The URL and headers that present `token` the target's way (plus extra query parameters). */
  withToken(token: string | undefined, query?: Record<string, string | undefined>): { url: string; headers: Record<string, string> };
  /** `wsUrl` with a query string, e.g. `url({token, format: "msgpack"})`. */
  url(query?: Record<string, string | undefined>): string;
  /** Publishes through `POST /api/publish`; returns the stream position. */
  publish(topic: string, type: string, payload: unknown, id?: string): Promise<{ epoch: string; offset: number }>;
  /** Calls an HTTP route with the API key (`path` starts with `/`). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Stops and starts the server again (same port and config). */
  restart(): Promise<void>;
  /** Sends a signal to the server process. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code when the process exits. */
  exited(): Promise<number | null>;
  /** The server's recent stderr+stdout (for failure messages). */
  logs(): string;
  /** Stops the server. */
  stop(): Promise<void>;
}

/** A secret of 48 random bytes, base64url. */
export function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
}

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The hosts the suite can spawn. */
export type HostKind = "bun" | "deno" | "exe" | "upstream";

/**
 * Which host to spawn (`WSE_CONFORMANCE_HOST`): `bun` (default), `deno`, `exe` (the compiled
 * `dist/wse-server` from `npm run build:exe`), or `upstream` (the Python wse-server 2.x through
 * `test/interop/upstream_server.py`, needs `.venv`; a baseline).
 */
export function hostKind(): HostKind {
  const v = process.env.WSE_CONFORMANCE_HOST;
  return v === "deno" || v === "exe" || v === "upstream" ? v : "bun";
}

/** True when the spawned host is our own CLI (Bun or Deno), which takes every `TargetConfig`. */
export function isOurHost(): boolean {
  return hostKind() !== "upstream";
}

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** Maps a {@link TargetConfig} to environment variables for `server/main.ts`. */
export function configToEnv(config: TargetConfig): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) env[name] = String(value);
  };
  set("WSE_JWT_SECRET", config.jwtSecret);
  set("WSE_JWT_ISSUER", config.jwtIssuer);
  set("WSE_JWT_AUDIENCE", config.jwtAudience);
  set("WSE_JWT_KID", config.jwtKid);
  set("WSE_JWKS_URL", config.jwksUrl);
  set("WSE_ORIGINS", config.origins?.join(","));
  set("WSE_RECOVERY", config.recovery === false ? "false" : undefined);
  set("WSE_PRESENCE", config.presence === false ? "false" : "true");
  set("WSE_CLIENT_PUBLISH", config.clientPublish === false ? "false" : "true");
  set("WSE_PING_INTERVAL_MS", config.pingIntervalMs);
  set("WSE_IDLE_TIMEOUT_MS", config.idleTimeoutMs);
  set("WSE_RATE_LIMIT_CAPACITY", config.rateLimitCapacity);
  set("WSE_RATE_LIMIT_REFILL", config.rateLimitRefill);
  set("WSE_HISTORY_SIZE", config.historySize);
  set("WSE_HISTORY_TTL_MS", config.historyTtlMs);
  set("WSE_RECOVERY_MAX", config.recoveryMaxCount);
  set("WSE_BACKPRESSURE_LIMIT", config.backpressureLimitBytes);
  set("WSE_DRAIN_TIMEOUT_MS", config.drainTimeoutMs);
  set("WSE_LOG_LEVEL", process.env.WSE_CONFORMANCE_LOG_LEVEL ?? "warn");
  Object.assign(env, config.extraEnv);
  return env;
}

function tokenViaFromEnv(): "query" | "cookie" | "bearer" {
  const v = process.env.WSE_CONFORMANCE_TOKEN_VIA;
  if (v === "cookie" || v === "bearer" || v === "query") return v;
  return hostKind() === "upstream" ? "cookie" : "query"; // upstream 2.x has no ?token=
}

/**
 * The environment a spawned server inherits: this process's, without any `WSE_*` variable (a
 * developer's own settings must not leak into the suite's servers), plus the JSON object in
 * `WSE_CONFORMANCE_SERVER_ENV` if set (for experiments; each file's own settings still win).
 */
function inheritedEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WSE_")) env[k] = v;
  const extra = process.env.WSE_CONFORMANCE_SERVER_ENV;
  if (extra) Object.assign(env, JSON.parse(extra) as Record<string, string>);
  return env;
}

/** True when spawned CLI servers get a Redis broker (`WSE_CONFORMANCE_BROKER=redis`). */
export function useRedis(): boolean {
  return process.env.WSE_CONFORMANCE_BROKER === "redis";
}

/** Maps the settings the upstream host script understands; the rest are left out (and their caps). */
export function configToUpstreamArgs(config: TargetConfig): string[] {
  const args: string[] = [];
  if (config.recovery === false) args.push("--no-recovery");
  if (config.presence === false) args.push("--no-presence");
  if (config.recoveryMaxCount !== undefined) args.push("--recovery-max", String(config.recoveryMaxCount));
  if (config.rateLimitCapacity !== undefined) args.push("--rate-capacity", String(config.rateLimitCapacity));
  if (config.rateLimitRefill !== undefined) args.push("--rate-refill", String(config.rateLimitRefill));
  if (config.idleTimeoutMs !== undefined && config.idleTimeoutMs % 1000 === 0) {
    // upstream needs ping_interval < idle_timeout, whole seconds
    args.push("--idle-timeout", String(config.idleTimeoutMs / 1000), "--ping-interval", String(Math.max(1, config.idleTimeoutMs / 2000)));
  }
  return args;
}

function upstreamCaps(config: TargetConfig): Set<Capability> {
  const caps = new Set<Capability>(["spawned", "api"]);
  if (config.jwtSecret) caps.add("jwt");
  if (config.presence !== false) caps.add("presence");
  if (config.recoveryMaxCount !== undefined) caps.add("small-recovery-cap");
  if (config.rateLimitCapacity !== undefined) caps.add("small-rate-limit");
  if (config.idleTimeoutMs !== undefined && config.idleTimeoutMs % 1000 === 0) caps.add("short-idle");
  return caps;
}

function capsFromConfig(config: TargetConfig): Set<Capability> {
  const caps = new Set<Capability>(["spawned", "api", "query-token"]);
  if (config.jwtSecret) caps.add("jwt");
  if (config.presence !== false) caps.add("presence");
  if (config.clientPublish !== false) caps.add("client-publish");
  if (config.jwtIssuer || config.jwtAudience) caps.add("issuer-audience");
  if (config.jwtKid) caps.add("kid");
  if (config.jwksUrl) caps.add("jwks");
  if (config.pingIntervalMs !== undefined) caps.add("short-ping");
  if (config.idleTimeoutMs !== undefined) caps.add("short-idle");
  if (config.rateLimitCapacity !== undefined) caps.add("small-rate-limit");
  if (config.historySize !== undefined) caps.add("small-history");
  if (config.recoveryMaxCount !== undefined) caps.add("small-recovery-cap");
  if (config.backpressureLimitBytes !== undefined) caps.add("small-backpressure");
  if (config.entry === "snapshot-host") caps.add("snapshot-provider");
  if (!useRedis() || config.entry === "snapshot-host") caps.add("memory-broker");
  return caps;
}

abstract class BaseTarget implements Target {
  abstract readonly name: string;
  abstract readonly wsUrl: string;
  abstract readonly httpUrl: string;
  abstract readonly jwtSecret: string | null;
  abstract readonly caps: ReadonlySet<Capability>;
  abstract readonly config: TargetConfig;
  protected abstract readonly apiKey: string | null;

  readonly tokenVia: "query" | "cookie" | "bearer" = tokenViaFromEnv();

  withToken(token: string | undefined, query: Record<string, string | undefined> = {}): { url: string; headers: Record<string, string> } {
    if (token === undefined) return { url: this.url(query), headers: {} };
    if (this.tokenVia === "cookie") return { url: this.url(query), headers: { Cookie: `access_token=${token}` } };
    if (this.tokenVia === "bearer") return { url: this.url(query), headers: { Authorization: `Bearer ${token}` } };
    return { url: this.url({ ...query, token }), headers: {} };
  }

  missing(...wanted: Capability[]): Capability[] {
    return wanted.filter((c) => !this.caps.has(c));
  }

  async mintToken(claims: JWTPayload = {}, options: MintOptions = {}): Promise<string> {
    const secret = options.secret ?? this.jwtSecret;
    if (secret === null || secret === undefined) throw new Error(`${this.name}: no JWT secret known`);
    const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
    const kid = options.kid === undefined ? this.config.jwtKid : options.kid;
    const header: { alg: string; typ: string; kid?: string } = { alg: options.alg ?? "HS256", typ: "JWT" };
    if (kid) header.kid = kid;
    const body: JWTPayload = { sub: "user-1", iat: Math.floor(Date.now() / 1000), ...claims };
    if (this.config.jwtIssuer && body.iss === undefined) body.iss = this.config.jwtIssuer;
    if (this.config.jwtAudience && body.aud === undefined) body.aud = this.config.jwtAudience;
    const exp = options.expiresInSeconds === undefined ? 300 : options.expiresInSeconds;
    if (exp !== null && body.exp === undefined) body.exp = Math.floor(Date.now() / 1000) + exp;
    return new SignJWT(body).setProtectedHeader(header).sign(key);
  }

  url(query: Record<string, string | undefined> = {}): string {
    const u = new URL(this.wsUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  api(path: string, init: RequestInit = {}): Promise<Response> {
    if (!this.apiKey) throw new Error(`${this.name}: no API key known`);
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.apiKey}`);
    if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
    return fetch(`${this.httpUrl}${path}`, { ...init, headers });
  }

  async publish(topic: string, type: string, payload: unknown, id?: string): Promise<{ epoch: string; offset: number }> {
    const res = await this.api("/api/publish", {
      method: "POST",
      body: JSON.stringify(id === undefined ? { topic, type, payload } : { topic, type, payload, id }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST /api/publish → ${res.status}: ${text}`);
    return JSON.parse(text);
  }

  abstract restart(): Promise<void>;
  abstract kill(signal: NodeJS.Signals): void;
  abstract exited(): Promise<number | null>;
  abstract logs(): string;
  abstract stop(): Promise<void>;
}

/** Every server process still running; killed if the test process exits without stopping them. */
const liveProcesses = new Set<ReturnType<typeof Bun.spawn>>();
process.on("exit", () => {
  for (const proc of liveProcesses) proc.kill("SIGKILL");
});

/** A server process the suite spawned. */
class SpawnedTarget extends BaseTarget {
  readonly name: string;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly jwtSecret: string | null;
  readonly caps: ReadonlySet<Capability>;
  protected readonly apiKey: string;
  private proc: ReturnType<typeof Bun.spawn> | null = null;
  private output = "";
  private redis: RedisTestServer | null = null;

  constructor(
    readonly config: TargetConfig,
    private readonly port: number,
    private readonly httpPort: number,
    private readonly kind: HostKind,
  ) {
    super();
    this.name = `${kind} server on :${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}/wse`;
    this.httpUrl = `http://127.0.0.1:${httpPort}`;
    this.jwtSecret = config.jwtSecret ?? null;
    this.caps = kind === "upstream" ? upstreamCaps(config) : capsFromConfig(config);
    this.apiKey = `conformance-api-key-${randomSecret()}`;
  }

  private command(): string[] {
    const script = this.config.entry === "snapshot-host" ? "test/conformance/snapshot-host.ts" : this.kind === "deno" ? "server/deno.ts" : "server/main.ts";
    if (this.kind === "deno") return [`${REPO_ROOT}node_modules/.bin/deno`, "run", "-A", `${REPO_ROOT}${script}`];
    if (this.kind === "bun" || (this.kind === "exe" && this.config.entry === "snapshot-host")) return [process.execPath, `${REPO_ROOT}${script}`];
    if (this.kind === "exe") return [`${REPO_ROOT}dist/wse-server`];
    if (this.config.entry === "snapshot-host") throw new Error("the snapshot host embeds our server; not available for upstream");
    if (!this.jwtSecret) throw new Error("the upstream host needs a JWT secret (without one 2.x sends no server_ready)");
    return [
      `${REPO_ROOT}.venv/bin/python`,
      `${REPO_ROOT}test/interop/upstream_server.py`,
      "--port", String(this.port),
      "--http-port", String(this.httpPort),
      "--jwt-secret", this.jwtSecret,
      "--api-key", this.apiKey,
      "--exit-on-stdin-eof",
      ...configToUpstreamArgs(this.config),
    ];
  }

  async start(): Promise<void> {
    const env: Record<string, string | undefined> = {
      ...inheritedEnv(),
      ...configToEnv(this.config),
      WSE_HOST: "127.0.0.1",
      WSE_PORT: String(this.port),
      WSE_API_KEY: this.apiKey,
    };
    if (this.config.jwtSecret === null) delete env.WSE_JWT_SECRET;
    if (useRedis() && this.kind !== "upstream" && this.config.entry !== "snapshot-host") {
      this.redis ??= await startRedisServer();
      env.WSE_REDIS_URL = this.redis.url;
    }
    const cmd = this.command();
    this.output = "";
    const proc = Bun.spawn(cmd, { cwd: REPO_ROOT, env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    this.proc = proc;
    liveProcesses.add(proc);
    void proc.exited.then(() => liveProcesses.delete(proc));
    void this.collect(proc.stdout as ReadableStream<Uint8Array>);
    void this.collect(proc.stderr as ReadableStream<Uint8Array>);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${this.name} exited during startup (${proc.exitCode ?? proc.signalCode}):\n${this.logs()}`);
      }
      try {
        const res = await fetch(`${this.httpUrl}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`${this.name}: /health not OK within 15 s:\n${this.logs()}`);
      }
      await sleep(100);
    }
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.output += decoder.decode(value, { stream: true });
        if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
      }
    } catch {
      // process gone
    }
  }

  logs(): string {
    return this.output.slice(-4000);
  }

  kill(signal: NodeJS.Signals): void {
    this.proc?.kill(signal);
  }

  async exited(): Promise<number | null> {
    if (!this.proc) return null;
    return this.proc.exited;
  }

  async restart(): Promise<void> {
    await this.stopProcess();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    const redis = this.redis;
    this.redis = null;
    await redis?.stop();
  }

  private async stopProcess(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    }
  }
}

/** A server somebody else runs (`WSE_CONFORMANCE_URL`). */
class ExternalTarget extends BaseTarget {
  readonly name: string;
  readonly httpUrl: string;
  readonly jwtSecret: string | null;
  readonly caps: ReadonlySet<Capability>;
  readonly config: TargetConfig;
  protected readonly apiKey: string | null;

  constructor(readonly wsUrl: string) {
    super();
    this.name = `external server ${wsUrl}`;
    const u = new URL(wsUrl);
    this.httpUrl = process.env.WSE_CONFORMANCE_HTTP ?? `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
    this.jwtSecret = process.env.WSE_CONFORMANCE_JWT_SECRET ?? null;
    this.apiKey = process.env.WSE_CONFORMANCE_API_KEY ?? null;
    const caps = new Set<Capability>();
    if (this.jwtSecret) caps.add("jwt");
    if (this.apiKey) caps.add("api");
    for (const c of (process.env.WSE_CONFORMANCE_CAPS ?? "").split(",")) if (c.trim()) caps.add(c.trim() as Capability);
    this.caps = caps;
    this.config = { jwtSecret: this.jwtSecret };
  }

  restart(): Promise<void> {
    throw new Error(`${this.name}: cannot restart an external server`);
  }
  kill(): void {
    throw new Error(`${this.name}: cannot signal an external server`);
  }
  async exited(): Promise<number | null> {
    throw new Error(`${this.name}: cannot watch an external server`);
  }
  logs(): string {
    return "(external server: no logs)";
  }
  async stop(): Promise<void> {}
}

/**
 * Starts the target for one test file: an external server when `WSE_CONFORMANCE_URL` is set,
 * otherwise a fresh spawned server with `config` (a random JWT secret unless `jwtSecret: null`).
 */
export async function startTarget(config: TargetConfig = {}): Promise<Target> {
  const external = process.env.WSE_CONFORMANCE_URL;
  if (external) return new ExternalTarget(external);
  const full: TargetConfig = { ...config, jwtSecret: config.jwtSecret === undefined ? randomSecret() : config.jwtSecret };
  const kind = hostKind();
  // A free port can be taken between choosing it and binding it (another suite, or this
  // target's own redis-server): start again on a new port when that happened.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const target = new SpawnedTarget(full, port, kind === "upstream" ? await freePort() : port, kind);
    try {
      await target.start();
      return target;
    } catch (error) {
      await target.stop().catch(() => {});
      if (attempt >= 3 || !/in use|EADDRINUSE/i.test(String(error))) throw error;
    }
  }
}
