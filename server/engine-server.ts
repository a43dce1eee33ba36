/**
 * What every host's server shares: the resolved options, the engine, and the embedding API
 * (`publish`, `send`, presence, history, stats, drain …), all answered by the engine. The Bun
 * host (`server/bun.ts`) and the Deno host (`server/deno-server.ts`) add listening, the upgrade
 * and the socket wiring.
 *
 * @module
 */
import type { PresenceMember, StreamTop } from "./broker/types.ts";
import { Engine, type EngineDeps } from "./engine/engine.ts";
import type { ResolvedOptions } from "./options.ts";
import type {
  DisconnectOptions,
  DrainCallOptions,
  HistoryAnswer,
  HistoryQuery,
  PresenceSummary,
  ServerMetrics,
  ServerPublishOptions,
  ServerStats,
} from "./types.ts";

/** The runtime-free half of a WSE server: options, engine and the embedding API. */
export class EngineServer {
  /** The resolved options. */
  readonly options: ResolvedOptions;
  /** The engine (runtime-free core). */
  readonly engine: Engine;

  /** Creates the engine. */
  constructor(options: ResolvedOptions, deps: EngineDeps = {}) {
    this.options = options;
    this.engine = new Engine(options, deps);
  }

  /** False while the broker is unreachable or the server drains. */
  get healthy(): boolean {
    return this.engine.healthy;
  }

  /** True once `drain()` began. */
  get draining(): boolean {
    return this.engine.draining;
  }

  /** Publishes to a topic. */
  publish(topic: string, type: string, payload: unknown, options?: ServerPublishOptions): Promise<StreamTop> {
    return this.engine.publish(topic, type, payload, options);
  }

  /** Sends to one local connection. */
  send(connectionId: string, type: string, payload: unknown): boolean {
    return this.engine.send(connectionId, type, payload);
  }

  /** Sends to every connection. */
  broadcast(type: string, payload: unknown): Promise<void> {
    return this.engine.broadcast(type, payload);
  }

  /** Server-side subscribe. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]> {
    return this.engine.subscribe(connectionId, topics);
  }

  /** Server-side unsubscribe. */
  unsubscribe(connectionId: string, topics?: string[]): Promise<void> {
    return this.engine.unsubscribe(connectionId, topics);
  }

  /** Closes connections of a user or one connection. */
  disconnect(options: DisconnectOptions): Promise<number> {
    return this.engine.disconnect(options);
  }

  /** Presence of a topic grouped by user. */
  presence(topic: string): Promise<PresenceSummary> {
    return this.engine.presenceSummary(topic);
  }

  /** Raw presence members. */
  presenceMembers(topic: string): Promise<PresenceMember[]> {
    return this.engine.presenceMembers(topic);
  }

  /** Retained history. */
  history(topic: string, query?: HistoryQuery): Promise<HistoryAnswer> {
    return this.engine.history(topic, query);
  }

  /** Summary numbers. */
  stats(): ServerStats {
    return this.engine.stats();
  }

  /** Counters for `/metrics`. */
  metrics(): ServerMetrics {
    return this.engine.metrics();
  }

  /** Drains: refuses new upgrades (503), closes connections in jittered batches. */
  drain(options?: DrainCallOptions): Promise<void> {
    return this.engine.drain(options);
  }

  /** Drains the open connections unless none are left (the first step of every host's `stop`). */
  protected async drainIfOpen(): Promise<void> {
    if (this.engine.sessions.size > 0 || this.engine.openSockets > 0) await this.engine.drain();
  }
}
