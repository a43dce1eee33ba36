/**
 * The WSE demo page: connection state and health, a live event stream, and a small chat room
 * with presence — built on the browser bundle (`wse-client.js`) and the `useWSE` hook.
 *
 * URL parameters: `token` (JWT), `encryption=0` / `zstd=0` to turn those off, `ws` (server URL;
 * default `ws(s)://<this host>/wse`), `topic` (event topic, default `demo.events`).
 *
 * @module
 */
import { type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import type { WSEClient } from "../client.ts";
import type { WSEEvent } from "../events.ts";
import { useWSE } from "../react.ts";

const params = new URLSearchParams(location.search);
const EVENTS_TOPIC = params.get("topic") ?? "demo.events";
const CHAT_TOPIC = "demo.chat";
const SERVER = params.get("ws") ?? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/wse`;
const PALETTE = ["#6aa7ff", "#3ecf8e", "#f5b942", "#ff8fa3", "#b392f0", "#5ee1e6", "#ffb86b"];

function pick<T>(list: T[]): T {
  return list[Math.floor(Math.random() * list.length)];
}

const ME = (() => {
  const saved = sessionStorage.getItem("wse-demo-me");
  if (saved) return JSON.parse(saved) as { name: string; color: string };
  const me = {
    name: `${pick(["swift", "calm", "brave", "quiet", "lucky", "bright"])}-${pick(["otter", "falcon", "lynx", "heron", "panda", "koi"])}`,
    color: pick(PALETTE),
  };
  sessionStorage.setItem("wse-demo-me", JSON.stringify(me));
  return me;
})();

interface ChatLine {
  key: string;
  name: string;
  color: string;
  text: string;
  mine: boolean;
  system?: boolean;
}

interface Member {
  userId: string;
  name: string;
  color: string;
}

function Stat(props: { label: string; value: ReactNode; id: string; children?: ReactNode }) {
  return (
    <div className="stat">
      <div className="label">{props.label}</div>
      <div className="value" data-testid={props.id}>{props.value}</div>
      {props.children}
    </div>
  );
}

function Sparkline({ points }: { points: number[] }) {
  if (points.length < 2) return <svg className="spark" />;
  const max = Math.max(...points, 1);
  const step = 100 / (points.length - 1);
  const d = points.map((p, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(28 - (p / max) * 24).toFixed(1)}`).join(" ");
  return (
    <svg className="spark" viewBox="0 0 100 28" preserveAspectRatio="none">
      <path d={d} fill="none" stroke="#6aa7ff" strokeWidth="1.5" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}

function Lock({ closed }: { closed: boolean }) {
  return (
    <svg width="12" height="13" viewBox="0 0 12 13" aria-hidden="true">
      <rect x="1" y="6" width="10" height="7" rx="1.5" fill="currentColor" />
      <path d={closed ? "M3.2 6V4.2a2.8 2.8 0 0 1 5.6 0V6" : "M3.2 6V4.2a2.8 2.8 0 0 1 5.4-1"} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}

function hint(what: string, error: unknown): string {
  if ((error as { code?: string }).code === "PUBLISH_DISABLED") return `${what}: start the server with --client-publish`;
  return `${what}: ${(error as Error).message}`;
}

function describe(event: WSEEvent): string {
  if (event.type === "discontinuity") {
    const p = event.payload as { reason?: string; previous?: { offset: number } | null; current?: { offset: number } };
    const from = p.previous ? `#${p.previous.offset}` : "the start";
    return `history lost after ${from} (${p.reason})`;
  }
  if (event.type === "recovery") return `reconnected, ${(event.payload as { count?: number }).count ?? 0} replayed, none lost`;
  return JSON.stringify(event.payload);
}

function usePresence(client: WSEClient | null, ready: boolean): Member[] {
  const [members, setMembers] = useState<Record<string, Member>>({});
  useEffect(() => {
    if (!client) return;
    const toMember = (userId: string, data: unknown): Member => {
      const d = (data ?? {}) as { name?: string; color?: string };
      return { userId, name: d.name ?? userId.slice(0, 8), color: d.color ?? "#8b95a7" };
    };
    const offs = [
      client.on("presence_join", (e) => {
        if (e.payload.topic !== CHAT_TOPIC) return;
        const m = toMember(String(e.payload.user_id), e.payload.data);
        setMembers((all) => ({ ...all, [m.userId]: m }));
      }),
      client.on("presence_update", (e) => {
        const m = toMember(String(e.payload.user_id), e.payload.data);
        setMembers((all) => ({ ...all, [m.userId]: m }));
      }),
      client.on("presence_leave", (e) => {
        if (e.payload.topic !== CHAT_TOPIC) return;
        setMembers((all) => {
          const next = { ...all };
          delete next[String(e.payload.user_id)];
          return next;
        });
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [client]);
  useEffect(() => {
    if (!client || !ready) return;
    client.presence(CHAT_TOPIC).then((p) => {
      const next: Record<string, Member> = {};
      for (const [userId, info] of Object.entries(p.members)) {
        const d = (info.data ?? {}) as { name?: string; color?: string };
        next[userId] = { userId, name: d.name ?? userId.slice(0, 8), color: d.color ?? "#8b95a7" };
      }
      setMembers(next);
    }).catch(() => undefined);
  }, [client, ready]);
  return Object.values(members);
}

function App({ token }: { token?: string }) {
  const encryption = params.get("encryption") !== "0";
  const zstd = params.get("zstd") !== "0";
  const [stream, setStream] = useState<WSEEvent[]>([]);
  const [chat, setChat] = useState<ChatLine[]>([]);
  const [draft, setDraft] = useState("");
  const [latencies, setLatencies] = useState<number[]>([]);
  const [note, setNote] = useState("");
  const { client, state, connectionHealth, stats, error, publish } = useWSE({
    url: SERVER,
    token,
    encryption,
    zstd,
    topics: [EVENTS_TOPIC],
    reconnect: { baseDelay: 500, maxDelay: 5000 },
    heartbeatInterval: 5000,
    onEvent: (event) => {
      if (event.topic === CHAT_TOPIC && event.type === "chat_message") {
        const p = event.payload as { name?: string; color?: string; text?: string; from?: string };
        setChat((lines) => [...lines.slice(-199), {
          key: `${event.epoch}:${event.offset}:${event.id}`,
          name: p.name ?? "someone",
          color: p.color ?? "#8b95a7",
          text: String(p.text ?? ""),
          mine: p.from === clientKey,
        }]);
        return;
      }
      if (event.topic === CHAT_TOPIC && event.type === "discontinuity") {
        setChat((lines) => [...lines.slice(-199), {
          key: `gap:${event.timestamp}:${lines.length}`,
          name: "",
          color: "",
          text: "The server restarted — messages sent meanwhile may be missing.",
          mine: false,
          system: true,
        }]);
        return;
      }
      // The stream shows the events topic (with the client's recovery/discontinuity notes) and
      // server errors; presence and chat live in the room panel.
      if (event.topic !== EVENTS_TOPIC && event.type !== "error" && event.type !== "rate_limit_warning") return;
      setStream((list) => [event, ...list].slice(0, 200));
    },
  });
  const ready = state === "ready";
  const clientKey = useMemo(() => `${ME.name}:${Math.random().toString(36).slice(2, 8)}`, []);
  const members = usePresence(client, ready);

  // Join the chat room with presence once the client exists (resubscribed automatically later).
  useEffect(() => {
    if (!client) return;
    client.subscribe([CHAT_TOPIC], { presence: { name: ME.name, color: ME.color } }).catch(() => undefined);
  }, [client]);

  useEffect(() => {
    const latency = stats?.network.latencyMs;
    if (latency !== undefined && stats?.network.quality !== "unknown") setLatencies((l) => [...l.slice(-39), latency]);
  }, [stats]);

  const streamRef = useRef<HTMLUListElement>(null);
  const chatRef = useRef<HTMLUListElement>(null);
  useEffect(() => {
    chatRef.current?.scrollTo({ top: chatRef.current.scrollHeight });
  }, [chat]);

  const sendChat = async () => {
    const text = draft.trim();
    if (!text) return;
    setDraft("");
    try {
      await publish(CHAT_TOPIC, "chat_message", { text, name: ME.name, color: ME.color, from: clientKey });
    } catch (e) {
      setNote(hint("chat", e));
    }
  };

  const burst = async () => {
    try {
      for (let i = 0; i < 10; i++) await publish(EVENTS_TOPIC, "burst", { n: i + 1, from: ME.name });
    } catch (e) {
      setNote(hint("publish", e));
    }
  };

  const seq = stats?.sequencer;
  return (
    <div className="app">
      <header className="top">
        <h1>
          <span>WSE</span> live demo
        </h1>
        <div className="pills">
          <span className={`pill state-${state}`} data-testid="state-pill">
            <span className="dot" />
            <span data-testid="state">{state}</span>
          </span>
          <span className={`pill ${stats?.encryption.enabled ? "secure" : ""}`} data-testid="encryption">
            <Lock closed={Boolean(stats?.encryption.enabled)} />
            {stats?.encryption.enabled ? "AES-256-GCM" : "plaintext"}
          </span>
          <span className="pill" data-testid="compression">{zstd ? "zstd + zlib" : "zlib"}</span>
          <span className={`pill q-${connectionHealth}`} data-testid="quality">● {connectionHealth}</span>
          <span className="pill">{ME.name}</span>
        </div>
      </header>

      <section className="stats">
        <Stat label="Latency" id="latency" value={stats && stats.network.quality !== "unknown" ? `${stats.network.latencyMs.toFixed(1)} ms` : "—"}>
          <Sparkline points={latencies} />
        </Stat>
        <Stat label="Jitter" id="jitter" value={stats ? `${stats.network.jitterMs.toFixed(1)} ms` : "—"} />
        <Stat label="Received" id="received" value={stats?.messagesReceived ?? 0} />
        <Stat label="Reconnects" id="reconnects" value={stats?.reconnectCount ?? 0} />
        <Stat label="Dups dropped" id="dups" value={seq?.duplicatesDetected ?? 0} />
        <Stat label="Recovered / gaps" id="recoveries" value={`${seq?.recoveriesSucceeded ?? 0} / ${seq?.discontinuities ?? 0}`} />
      </section>

      <div className="grid">
        <section className="card">
          <h2>
            Live events <code>{EVENTS_TOPIC}</code>
            <span className="count" data-testid="event-count">{stream.length} shown</span>
          </h2>
          <div className="toolbar" style={{ marginBottom: ".6rem" }}>
            <button type="button" onClick={burst} disabled={!ready}>Publish 10 events</button>
            <button type="button" className="ghost" onClick={() => client?.forceReconnect()} disabled={!client}>Drop &amp; recover</button>
            {note && <span className="note">{note}</span>}
            {error && state !== "ready" && <span className="error" data-testid="error">{error.message}</span>}
          </div>
          <ul className="stream" ref={streamRef} data-testid="stream">
            {stream.map((e, i) => (
              <li
                key={`${e.epoch ?? "x"}:${e.offset ?? i}:${e.id ?? e.timestamp}:${e.type}`}
                className={e.type === "discontinuity" ? "discontinuity" : e.type === "recovery" ? "recovery" : e.category === "WSE" ? "system" : ""}
                data-testid={e.type === "discontinuity" ? "discontinuity" : e.type === "recovery" ? "recovery" : "event"}
                data-offset={e.offset}
              >
                <span className="t">{(e.timestamp ?? "").slice(11, 19)}</span>
                <span className="topic">{e.type}</span>
                <span className="off">{e.offset ?? ""}</span>
                <span className="body">{describe(e)}</span>
              </li>
            ))}
            {stream.length === 0 && (
              <li className="empty">
                No events yet. Press <b>Publish 10 events</b> (needs <code>--client-publish</code>) or run{" "}
                <code>
                  curl {location.origin}/api/publish -H "authorization: Bearer $WSE_API_KEY" -d '{`{"topic":"${EVENTS_TOPIC}","type":"hello","payload":{}}`}'
                </code>
              </li>
            )}
          </ul>
        </section>

        <section className="card">
          <h2>
            Chat room <code>{CHAT_TOPIC}</code>
            <span className="count" data-testid="presence-count">{members.length} online</span>
          </h2>
          <div className="chat">
            <div className="people" data-testid="people">
              {members.map((m) => (
                <span className="person" key={m.userId}>
                  <span className="avatar" style={{ background: m.color }}>{m.name.slice(0, 1).toUpperCase()}</span>
                  {m.name}
                </span>
              ))}
            </div>
            <ul className="messages" ref={chatRef} data-testid="chat">
              {chat.map((line) =>
                line.system
                  ? <li key={line.key} className="msg-system" data-testid="chat-gap">{line.text}</li>
                  : (
                    <li key={line.key} className={`msg${line.mine ? " mine" : ""}`}>
                      <div className="who" style={{ color: line.color }}>{line.name}</div>
                      {line.text}
                    </li>
                  )
              )}
              {chat.length === 0 && <li className="note">No messages yet. Say hello!</li>}
            </ul>
            <form
              className="composer"
              onSubmit={(e) => {
                e.preventDefault();
                void sendChat();
              }}
            >
              <input type="text" data-testid="chat-input" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Message the room…" maxLength={500} />
              <button type="submit" disabled={!ready || !draft.trim()}>Send</button>
            </form>
          </div>
        </section>
      </div>
      <footer>
        {stats?.connectionId ? `connection ${stats.connectionId} · ` : ""}
        {SERVER} · recovery {client?.recoveryEnabled ? "on" : "off"}
      </footer>
    </div>
  );
}

async function boot(): Promise<void> {
  let token = params.get("token") ?? undefined;
  if (!token) {
    // A server in demo mode may hand out a short-lived demo token.
    try {
      const res = await fetch("./token", { cache: "no-store" });
      if (res.ok) token = (await res.text()).trim() || undefined;
    } catch { /* no token endpoint: development mode */ }
  }
  createRoot(document.getElementById("root")!).render(<App token={token} />);
}

void boot();
