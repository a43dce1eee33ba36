"""Host for the upstream WSE 2.x Rust/PyO3 server (`wse_server.RustWSEServer`, PyPI wheel).

It plays the part of the application that every 2.x deployment has to write: it runs the
server in drain mode with JWT, recovery and presence on, and implements the subscription
convention the WSE clients expect (PROTOCOL.md §4-5): `subscription_update` replies with
per-topic recovery (one `subscribe_with_recovery` call per topic, because upstream takes one
position per call), presence on subscribe, `sync_request` snapshots, batch unwrapping.

Beside the WebSocket port it serves a small HTTP API shaped like ours, so the same tests and
the conformance suite can drive it:

- `GET  /health`
- `POST /api/publish {topic, type, payload, id?, priority?, cid?}` → `{epoch, offset}`
  (idempotent on `id` for 5 min; the position is read back from an internal
  observer connection that is subscribed to the topic)
- `POST /api/broadcast {type, payload}`
- `POST /api/disconnect {user_id?, connection_id?}` (camelCase accepted too) → `{disconnected: n}`
- `GET  /api/presence/<topic>`
- `POST /test/send {userId|connectionId, type, payload}` (upstream `send_event`)
- `POST /test/flood {userId|connectionId, count}` (that many `send_event`s: rate-limit feedback)
- `POST /test/drain {code, reason}`
- `GET  /test/messages` → every application message received `[{connectionId, userId, type, payload, cid}]`
- `GET  /test/connections` → `[{connectionId, userId}]`

`/api/*` and `/test/*` need `Authorization: Bearer <api key>` when `--api-key` is given.

Run: `python test/interop/upstream_server.py --jwt-secret S [--port 0] [--http-port 0]`; the
first stdout line is JSON `{"ws_url": ..., "http_url": ..., "port": ..., "http_port": ...}`.
It exits on SIGTERM/SIGINT or when stdin closes (`--exit-on-stdin-eof`).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.sync.client import connect as ws_connect
from wse_server import RustWSEServer, rust_jwt_encode

OBSERVER_USER = "__interop_observer__"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso_now() -> str:
    """Current UTC time as ISO-8601 with milliseconds and `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Observer:
    """An internal WebSocket client subscribed to every published topic; it reads each
    publication's stamp back so `/api/publish` can answer with the assigned (epoch, offset)."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self._cond = threading.Condition()
        self._stamps: dict[str, tuple[str, int]] = {}
        self._ready = threading.Event()
        self._ws: Any = None
        self.connection_id: str = ""
        threading.Thread(target=self._read, daemon=True, name="observer").start()
        if not self._ready.wait(10) or not self.connection_id:
            raise RuntimeError("observer connection did not get server_ready")

    def _read(self) -> None:
        try:
            headers = {"Authorization": f"Bearer {self._token}"}
            with ws_connect(self._url, additional_headers=headers, max_size=2**22) as ws:
                self._ws = ws
                ready = json.loads(ws.recv(timeout=10))
                self.connection_id = ready["p"]["details"]["connection_id"]
                self._ready.set()
                for frame in ws:
                    if isinstance(frame, str) and frame.startswith('{"c":"WSE","t":"ping"'):
                        ws.send('{"c":"WSE","t":"PONG","p":{},"v":1}')  # stay clear of the idle close
                        continue
                    if not isinstance(frame, str) or not frame.startswith('{"tp":'):
                        continue
                    msg = json.loads(frame)
                    if "id" in msg:
                        with self._cond:
                            self._stamps[msg["id"]] = (msg["e"], msg["o"])
                            if len(self._stamps) > 10_000:
                                self._stamps.pop(next(iter(self._stamps)))
                            self._cond.notify_all()
        except Exception:  # noqa: BLE001 - the observer ends with the server
            pass
        finally:
            self._ready.set()

    def wait_stamp(self, msg_id: str, timeout: float = 3.0) -> tuple[str, int] | None:
        """The (epoch, offset) of the publication with this id, once the observer saw it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._stamps:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._stamps.pop(msg_id)

    def close(self) -> None:
        try:
            if self._ws is not None:
                self._ws.close()
        except Exception:  # noqa: BLE001
            pass


class Host:
    """The application around `RustWSEServer`: drain loop, subscription convention, HTTP API."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = args.port or free_port()
        self.secret = args.jwt_secret.encode()
        self.server = RustWSEServer(
            args.host,
            self.port,
            jwt_secret=self.secret,
            recovery_enabled=not args.no_recovery,
            recovery_buffer_size=args.history_size,
            recovery_max_messages=args.recovery_max,
            presence_enabled=not args.no_presence,
            rate_limit_capacity=float(args.rate_capacity),
            rate_limit_refill=float(args.rate_refill),
            ping_interval=args.ping_interval,
            idle_timeout=args.idle_timeout,
        )
        self.server.enable_drain_mode()
        self.lock = threading.Lock()
        self.users: dict[str, str] = {}  # connection id -> user id
        self.messages: list[dict[str, Any]] = []
        self.last_payload: dict[str, Any] = {}  # topic -> last published payload (snapshot state)
        self.observer_topics: set[str] = set()
        self.observer: Observer | None = None
        self.published: dict[str, tuple[float, dict[str, Any]]] = {}  # id -> (time, answer): idempotency
        self.stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("upstream server did not start listening")
                time.sleep(0.05)
        threading.Thread(target=self._drain_loop, daemon=True, name="drain").start()
        token = rust_jwt_encode({"sub": OBSERVER_USER, "exp": int(time.time()) + 86_400}, self.secret)
        self.observer = Observer(f"ws://127.0.0.1:{self.port}/wse", token)

    def stop(self) -> None:
        self.stopping.set()
        if self.observer:
            self.observer.close()
        self.server.stop()

    # -- inbound ----------------------------------------------------------------------------

    def _drain_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                events = self.server.drain_inbound(256, 50)
            except Exception:  # noqa: BLE001 - server stopped
                return
            for kind, conn, data in events:
                try:
                    self._handle(kind, conn, data)
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the host
                    print(f"host: error handling {kind}: {exc!r}", file=sys.stderr, flush=True)

    def _handle(self, kind: str, conn: str | None, data: Any) -> None:
        if kind == "auth_connect":
            with self.lock:
                self.users[conn] = data
        elif kind == "disconnect":
            with self.lock:
                self.users.pop(conn, None)
        elif kind == "msg" and isinstance(data, dict):
            if self.observer and conn == self.observer.connection_id:
                return
            self._on_message(conn, data)
        elif kind in ("raw", "bin"):
            self._record(conn, f"<{kind}>", {"length": len(data)}, None)

    def _on_message(self, conn: str, msg: dict[str, Any]) -> None:
        t = msg.get("t")
        p = msg.get("p") if isinstance(msg.get("p"), dict) else {}
        if t in ("subscription_update", "subscription"):
            self._on_subscription(conn, p)
        elif t == "sync_request":
            self._on_sync_request(conn, p)
        elif t == "batch":
            for inner in p.get("messages", []):
                if isinstance(inner, dict):
                    self._on_message(conn, inner)
        elif t == "presence_update":
            data = p.get("data", p)
            if isinstance(data, dict) and not self.args.no_presence:
                self.server.update_presence(conn, data)
        elif t == "presence_request":
            topic = p.get("topic")
            if isinstance(topic, str) and not self.args.no_presence:
                self._send(conn, "presence", self._presence(topic), msg.get("cid"))
        else:
            self._record(conn, t, msg.get("p"), msg.get("cid"))
            if t == "echo":
                self._send(conn, "echo", p, msg.get("cid"))

    def _record(self, conn: str, t: Any, payload: Any, cid: Any) -> None:
        with self.lock:
            self.messages.append(
                {"connectionId": conn, "userId": self.users.get(conn), "type": t, "payload": payload, "cid": cid}
            )

    @staticmethod
    def topic_error(topic: Any) -> str | None:
        """Why a topic name is unacceptable (PROTOCOL.md §3 limits), or None."""
        if not isinstance(topic, str) or not topic:
            return "invalid topic: empty or not a string"
        if len(topic.encode()) > 256:
            return "invalid topic: longer than 256 bytes"
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in topic):
            return "invalid topic: control character"
        return None

    def _on_subscription(self, conn: str, p: dict[str, Any]) -> None:
        action = p.get("action", "subscribe")
        raw_topics = p.get("topics") if isinstance(p.get("topics"), list) else []
        errors: dict[str, str] = {}
        topics: list[str] = []
        failed: list[str] = []
        for t in raw_topics:
            why = self.topic_error(t)
            key = t if isinstance(t, str) else json.dumps(t)
            if why:
                failed.append(key)
                errors[key] = why
            elif t not in topics:
                topics.append(t)
        if action == "unsubscribe":
            self.server.unsubscribe_connection(conn, topics)
            self._send(conn, "subscription_update", {
                "action": "unsubscribe", "success": not failed, "success_topics": topics,
                "failed_topics": failed, "errors": errors,
            })
            return
        wants = bool(p.get("recover"))
        positions = p.get("recovery") if isinstance(p.get("recovery"), dict) else {}
        presence = p.get("presence") if isinstance(p.get("presence"), dict) else None
        ok: list[str] = []
        recovery: dict[str, Any] = {}
        all_recovered = wants and bool(topics)
        for topic in topics:
            try:
                if self.args.no_recovery:
                    self.server.subscribe_connection(conn, [topic])
                    all_recovered = False
                else:
                    pos = positions.get(topic) if wants else None
                    asked = isinstance(pos, dict) and isinstance(pos.get("epoch"), str) and isinstance(pos.get("offset"), int)
                    if asked:
                        res = self.server.subscribe_with_recovery(
                            conn, [topic], recover=True, epoch=pos["epoch"], offset=max(0, pos["offset"]))
                    else:
                        res = self.server.subscribe_with_recovery(conn, [topic])
                    info = dict(res["topics"].get(topic, {}))
                    if asked and not info.get("recovered"):
                        # Upstream gives no reason; the app derives the documented one.
                        if info.get("epoch") is None:
                            info["reason"] = "no_history"
                        elif info.get("epoch") != pos["epoch"]:
                            info["reason"] = "epoch_changed"
                        elif info.get("offset", 0) - pos["offset"] > self.args.recovery_max:
                            info["reason"] = "too_many"
                        else:
                            info["reason"] = "evicted"
                    recovery[topic] = info
                    all_recovered = all_recovered and bool(info.get("recovered"))
                if presence is not None and not self.args.no_presence:
                    self.server.subscribe_connection(conn, [topic], presence)
                ok.append(topic)
            except Exception as exc:  # noqa: BLE001 - e.g. a bad epoch string, or the subscription cap
                failed.append(topic)
                errors[topic] = str(exc)
                all_recovered = False
        reply: dict[str, Any] = {
            "action": "subscribe", "success": not failed, "success_topics": ok, "failed_topics": failed,
            "errors": errors, "recoverable": any(i.get("recoverable") for i in recovery.values()),
            "recovered": all_recovered, "recovery": recovery,
        }
        self._send(conn, "subscription_update", reply)

    def _on_sync_request(self, conn: str, p: dict[str, Any]) -> None:
        topics = [t for t in p.get("topics", []) if isinstance(t, str)]
        sent = 0
        for topic in topics:
            with self.lock:
                state = self.last_payload.get(topic)
            if state is not None:
                self._send(conn, "topic_snapshot", {"topic": topic, "data": state})
                sent += 1
        self._send(conn, "snapshot_complete", {"success": True, "snapshots_sent": sent, "topics": topics})

    def _send(self, conn: str, t: str, payload: Any, cid: Any = None) -> int:
        event: dict[str, Any] = {"t": t, "p": payload}
        if cid:
            event["cid"] = cid
        return self.server.send_event(conn, event)

    def _presence(self, topic: str) -> dict[str, Any]:
        members = self.server.presence(topic)
        stats = self.server.presence_stats(topic)
        return {"topic": topic, "members": members, **stats}

    # -- outbound (HTTP API) ----------------------------------------------------------------

    def publish(self, topic: str, t: str, payload: Any, msg_id: str | None,
                priority: Any = None, correlation_id: Any = None) -> dict[str, Any]:
        assert self.observer is not None
        now = time.monotonic()
        with self.lock:
            for old in [k for k, (at, _) in self.published.items() if now - at > 300]:
                del self.published[old]
            if msg_id and msg_id in self.published:
                return self.published[msg_id][1]
        if topic not in self.observer_topics:
            self.server.subscribe_connection(self.observer.connection_id, [topic])
            self.observer_topics.add(topic)
        msg_id = msg_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {"t": t, "p": payload, "id": msg_id, "ts": iso_now(), "v": 1}
        if isinstance(priority, int):
            envelope["pri"] = priority
        if isinstance(correlation_id, str):
            envelope["cid"] = correlation_id
        body = json.dumps(envelope, separators=(",", ":"))
        with self.lock:
            self.last_payload[topic] = payload
        self.server.broadcast(topic, body)
        stamp = self.observer.wait_stamp(msg_id)
        if stamp is None:
            raise TimeoutError("publication not observed within 3 s")
        answer = {"topic": topic, "epoch": stamp[0], "offset": stamp[1], "id": msg_id}
        with self.lock:
            self.published[msg_id] = (now, answer)
        return answer

    def connections_for(self, body: dict[str, Any]) -> list[str]:
        with self.lock:
            conn = body.get("connectionId") or body.get("connection_id")
            if conn:
                return [conn] if conn in self.users else []
            user = body.get("userId") or body.get("user_id")
            return [c for c, u in self.users.items() if u == user and u != OBSERVER_USER]


def make_handler(host: Host) -> type[BaseHTTPRequestHandler]:
    """The HTTP request handler class bound to `host`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            key = host.args.api_key
            if not key or self.path == "/health":
                return True
            if self.headers.get("authorization") == f"Bearer {key}":
                return True
            self._reply(401, {"error": "unauthorized"})
            return False

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(n) if n else b"{}"
            obj = json.loads(raw or b"{}")
            if not isinstance(obj, dict):
                raise ValueError("body must be a JSON object")
            return obj

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorized():
                return
            if self.path == "/health":
                self._reply(200, {"status": "ok", "upstream": True})
            elif self.path == "/test/messages":
                with host.lock:
                    self._reply(200, list(host.messages))
            elif self.path == "/test/connections":
                with host.lock:
                    conns = [{"connectionId": c, "userId": u} for c, u in host.users.items() if u != OBSERVER_USER]
                self._reply(200, conns)
            elif self.path.startswith("/api/presence/"):
                self._reply(200, host._presence(self.path[len("/api/presence/"):]))
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorized():
                return
            try:
                body = self._body()
                if self.path == "/api/publish":
                    topic, t = body.get("topic"), body.get("type")
                    if not isinstance(topic, str) or not topic or not isinstance(t, str) or not t:
                        self._reply(400, {"error": "topic and type are required strings"})
                        return
                    self._reply(200, host.publish(topic, t, body.get("payload"), body.get("id"),
                                                  body.get("priority"), body.get("cid", body.get("correlation_id"))))
                elif self.path == "/api/broadcast":
                    host.server.broadcast_all(json.dumps(
                        {"t": body.get("type"), "p": body.get("payload"), "id": str(uuid.uuid4()), "ts": iso_now(), "v": 1}))
                    self._reply(200, {"ok": True})
                elif self.path == "/api/disconnect":
                    conns = host.connections_for(body)
                    for c in conns:
                        host.server.disconnect(c)
                    self._reply(200, {"disconnected": len(conns)})
                elif self.path == "/test/send":
                    conns = host.connections_for(body)
                    for c in conns:
                        host._send(c, body.get("type", "message"), body.get("payload"))
                    self._reply(200, {"sent": len(conns)})
                elif self.path == "/test/flood":
                    conns = host.connections_for(body)
                    sent = 0
                    for c in conns:
                        for i in range(int(body.get("count", 10))):
                            sent += 1 if host._send(c, "flood", {"i": i}) else 0
                    self._reply(200, {"delivered": sent})
                elif self.path == "/test/drain":
                    host.server.drain(int(body.get("code", 4300)), str(body.get("reason", "")), int(body.get("timeout", 5)))
                    self._reply(200, {"ok": True})
                else:
                    self._reply(404, {"error": "not found"})
            except (ValueError, KeyError, TypeError) as exc:
                self._reply(400, {"error": str(exc)})
            except TimeoutError as exc:
                self._reply(504, {"error": str(exc)})

    return Handler


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="WebSocket port (0 = a free one)")
    ap.add_argument("--http-port", type=int, default=0, help="HTTP API port (0 = a free one)")
    ap.add_argument("--jwt-secret", required=True, help="HS256 secret, at least 32 bytes")
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--no-recovery", action="store_true")
    ap.add_argument("--no-presence", action="store_true")
    ap.add_argument("--history-size", type=int, default=256, help="ring slots per topic (ours: 256)")
    ap.add_argument("--recovery-max", type=int, default=500)
    ap.add_argument("--rate-capacity", type=float, default=100_000.0)
    ap.add_argument("--rate-refill", type=float, default=10_000.0)
    ap.add_argument("--ping-interval", type=int, default=25)
    ap.add_argument("--idle-timeout", type=int, default=60)
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent died)")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    host = Host(args)
    host.start()
    http_port = args.http_port or free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", http_port), make_handler(host))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True, name="http").start()
    print(json.dumps({
        "ws_url": f"ws://127.0.0.1:{host.port}/wse", "http_url": f"http://127.0.0.1:{http_port}",
        "port": host.port, "http_port": http_port,
    }), flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            sys.stdin.read()
            done.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    httpd.shutdown()
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
