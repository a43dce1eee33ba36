/**
 * Prometheus text exposition (format 0.0.4) of the server's counters (`WseServer.metrics()`).
 *
 * @example
 * ```ts
 * const text = formatMetrics(server.metrics(), { topicLimit: 100 });
 * ```
 *
 * @module
 */
import type { ServerMetrics } from "../types.ts";

/** Content type of the exposition. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Options of `formatMetrics`. */
export interface FormatMetricsOptions {
  /** Most per-topic series exposed, largest subscriber counts first (default 100). */
  topicLimit?: number;
}

type Kind = "counter" | "gauge";

interface Family {
  name: string;
  kind: Kind;
  help: string;
  value: (m: ServerMetrics) => number;
}

const FAMILIES: Family[] = [
  { name: "wse_connections", kind: "gauge", help: "Open WebSocket connections.", value: (m) => m.connections },
  { name: "wse_connections_total", kind: "counter", help: "WebSocket connections accepted since start.", value: (m) => m.connectionsTotal },
  { name: "wse_messages_in_total", kind: "counter", help: "Inbound WebSocket frames.", value: (m) => m.messagesIn },
  { name: "wse_messages_out_total", kind: "counter", help: "Outbound WebSocket frames.", value: (m) => m.messagesOut },
  { name: "wse_bytes_in_total", kind: "counter", help: "Inbound WebSocket bytes.", value: (m) => m.bytesIn },
  { name: "wse_bytes_out_total", kind: "counter", help: "Outbound WebSocket bytes.", value: (m) => m.bytesOut },
  { name: "wse_publications_total", kind: "counter", help: "Publications accepted (API, HTTP and clients).", value: (m) => m.publications },
  { name: "wse_auth_failures_total", kind: "counter", help: "Connections refused by authentication (close 4401).", value: (m) => m.authFailures },
  { name: "wse_rate_limited_total", kind: "counter", help: "Inbound messages dropped by the rate limit.", value: (m) => m.rateLimited },
  { name: "wse_rate_limit_closes_total", kind: "counter", help: "Connections closed for rate abuse (4429).", value: (m) => m.rateLimitCloses },
  { name: "wse_slow_consumer_closes_total", kind: "counter", help: "Connections closed as slow consumers (4008).", value: (m) => m.slowConsumerCloses },
  { name: "wse_recovery_hits_total", kind: "counter", help: "Topics recovered on subscribe.", value: (m) => m.recoveryHits },
  { name: "wse_recovery_misses_total", kind: "counter", help: "Topics whose recovery failed.", value: (m) => m.recoveryMisses },
  { name: "wse_invalid_messages_total", kind: "counter", help: "Inbound frames rejected as invalid.", value: (m) => m.invalidMessages },
  { name: "wse_decryption_failures_total", kind: "counter", help: "Inbound encrypted frames that failed to decrypt.", value: (m) => m.decryptionFailures },
  { name: "wse_topics", kind: "gauge", help: "Topics with at least one local subscriber.", value: (m) => m.topicCount },
  { name: "wse_broker_healthy", kind: "gauge", help: "1 when the broker is reachable.", value: (m) => (m.brokerHealthy ? 1 : 0) },
  { name: "wse_draining", kind: "gauge", help: "1 while the server drains.", value: (m) => (m.draining ? 1 : 0) },
  { name: "wse_uptime_seconds", kind: "gauge", help: "Seconds since the server started.", value: (m) => m.uptimeSeconds },
];

/** Formats the metrics as Prometheus text; per-topic series are capped at `topicLimit`. */
export function formatMetrics(metrics: ServerMetrics, options: FormatMetricsOptions = {}): string {
  const topicLimit = options.topicLimit ?? 100;
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.kind}`);
    lines.push(`${family.name} ${formatNumber(family.value(metrics))}`);
  }
  const topics = Object.entries(metrics.topics ?? {})
    .filter(([, count]) => Number.isFinite(count))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, Math.max(0, topicLimit));
  lines.push(
    "# HELP wse_topic_subscribers Local subscribers per topic (largest topics only).",
    "# TYPE wse_topic_subscribers gauge",
  );
  for (const [topic, count] of topics) lines.push(`wse_topic_subscribers{topic="${escapeLabel(topic)}"} ${formatNumber(count)}`);
  return `${lines.join("\n")}\n`;
}

/** Escapes a label value: backslash, double quote and newline (exposition format rules). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(value: number): string {
  if (typeof value !== "number" || Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
