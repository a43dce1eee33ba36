/**
 * React bindings: `useWSE` opens a `WSEClient` for the component's lifetime and exposes its
 * state, connection health, stats, the latest events and the send/subscribe functions.
 * React (≥ 18) is an optional peer dependency; `mod.ts` does not import this file.
 *
 * ```tsx
 * import { useWSE } from "./react.ts";
 *
 * function Ticker() {
 *   const { state, connectionHealth, lastEvents, send } = useWSE({
 *     url: "ws://127.0.0.1:5007/wse",
 *     topics: ["prices"],
 *   });
 *   return <p>{state} · {connectionHealth} · {lastEvents.length} events</p>;
 * }
 * ```
 *
 * @module
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { type ClientStats, type ConnectionState, type PublishAck, type SendOptions, type SubscriptionResult, WSEClient } from "./client.ts";
import type { WSEError } from "./errors.ts";
import type { WSEEvent } from "./events.ts";
import type { ConnectionQuality } from "./network-monitor.ts";
import type { WSEClientOptions } from "./options.ts";

/** `useWSE` options: every client option plus the URL(s) and hook settings. */
export interface UseWSEOptions extends WSEClientOptions {
  /** Server URL (or give `endpoints`). */
  url?: string;
  /** Keep this many recent events in `lastEvents` (default 50). */
  maxEvents?: number;
  /** Refresh `stats` this often, ms (default 1000). */
  statsInterval?: number;
  /** Set false to hold off connecting (default true). */
  enabled?: boolean;
  /** Called for every application-visible event (the hook keeps the latest callback). */
  onEvent?: (event: WSEEvent) => void;
}

/** What `useWSE` returns. */
export interface UseWSEResult {
  /** The live client (null before the first effect runs or when disabled). */
  client: WSEClient | null;
  /** Connection state. */
  state: ConnectionState;
  /** Handshake complete. */
  isConnected: boolean;
  /** Network quality band, `unknown` until the first heartbeat. */
  connectionHealth: ConnectionQuality;
  /** Latest `getStats()` snapshot. */
  stats: ClientStats | null;
  /** The most recent events, newest last. */
  lastEvents: WSEEvent[];
  /** The most recent event. */
  lastEvent: WSEEvent | null;
  /** The most recent connection-level error. */
  error: WSEError | null;
  /** `client.send` (queues offline while disconnected). */
  send: (type: string, payload?: Record<string, unknown>, options?: SendOptions) => Promise<boolean>;
  /** `client.subscribe`. */
  subscribe: (topics: string[] | string, options?: { recover?: boolean; presence?: Record<string, unknown> }) => Promise<SubscriptionResult>;
  /** `client.unsubscribe`. */
  unsubscribe: (topics: string[] | string) => Promise<SubscriptionResult>;
  /** `client.publish`. */
  publish: (topic: string, type: string, payload?: Record<string, unknown>) => Promise<PublishAck>;
}

function notReady(): Promise<never> {
  return Promise.reject(new Error("useWSE: the client is not created yet"));
}

/** Connects while the component is mounted; reconnects with a new client when url/endpoints/token/encryption/format change. */
export function useWSE(options: UseWSEOptions): UseWSEResult {
  const { url, maxEvents = 50, statsInterval = 1000, enabled = true, onEvent, topics, ...clientOptions } = options;
  const [client, setClient] = useState<WSEClient | null>(null);
  const [state, setState] = useState<ConnectionState>("disconnected");
  const [stats, setStats] = useState<ClientStats | null>(null);
  const [lastEvents, setLastEvents] = useState<WSEEvent[]>([]);
  const [error, setError] = useState<WSEError | null>(null);
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  const optionsRef = useRef(clientOptions);
  optionsRef.current = clientOptions;
  const topicsRef = useRef<string[]>(topics ?? []);

  const identity = JSON.stringify([url, clientOptions.endpoints, clientOptions.token, clientOptions.encryption, clientOptions.format, clientOptions.zstd, enabled]);

  useEffect(() => {
    if (!enabled) return;
    const c = new WSEClient(url, { ...optionsRef.current, topics: topicsRef.current, retryInitialConnect: true });
    setClient(c);
    setState(c.state);
    const offState = c.onStateChange((s) => {
      setState(s);
      setStats(c.getStats());
    });
    const offError = c.onError((e) => setError(e));
    const offAny = c.onAny((event) => {
      setLastEvents((list) => {
        const next = list.length >= maxEvents ? list.slice(list.length - maxEvents + 1) : list.slice();
        next.push(event);
        return next;
      });
      onEventRef.current?.(event);
    });
    const timer = setInterval(() => setStats(c.getStats()), statsInterval);
    c.connect().catch((e) => setError(e));
    return () => {
      clearInterval(timer);
      offState();
      offError();
      offAny();
      void c.close();
      setClient(null);
    };
  }, [identity, maxEvents, statsInterval]);

  // Topic changes resubscribe on the same client.
  const topicKey = JSON.stringify(topics ?? []);
  useEffect(() => {
    const wanted = topics ?? [];
    const before = topicsRef.current;
    topicsRef.current = wanted;
    if (!client) return;
    const added = wanted.filter((t) => !client.subscribedTopics.has(t));
    const removed = before.filter((t) => !wanted.includes(t));
    if (added.length) client.subscribe(added).catch((e) => setError(e));
    if (removed.length) client.unsubscribe(removed).catch((e) => setError(e));
  }, [client, topicKey]);

  const send = useCallback<UseWSEResult["send"]>((type, payload, opts) => client ? client.send(type, payload, opts) : notReady(), [client]);
  const subscribe = useCallback<UseWSEResult["subscribe"]>((t, opts) => client ? client.subscribe(t, opts) : notReady(), [client]);
  const unsubscribe = useCallback<UseWSEResult["unsubscribe"]>((t) => client ? client.unsubscribe(t) : notReady(), [client]);
  const publish = useCallback<UseWSEResult["publish"]>((topic, type, payload) => client ? client.publish(topic, type, payload) : notReady(), [client]);

  return {
    client,
    state,
    isConnected: state === "ready",
    connectionHealth: stats?.network.quality ?? "unknown",
    stats,
    lastEvents,
    lastEvent: lastEvents.at(-1) ?? null,
    error,
    send,
    subscribe,
    unsubscribe,
    publish,
  };
}
