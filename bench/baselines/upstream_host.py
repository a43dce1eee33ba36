"""Benchmark host for the upstream WSE server (PyPI ``wse-server``, ``RustWSEServer``).

Runs the upstream Rust server with settings equivalent to ours (JWT HS256, recovery on,
compression threshold 1024 B, ping 25 s) and implements what upstream leaves to the
application: subscribe requests are answered with ``subscribe_with_recovery`` (once per topic,
see docs/UPSTREAM-NOTES.md B.4) and a PROTOCOL-shaped ``subscription_update`` reply, and client
pings are answered by the server itself. Publications go through ``broadcast_local`` (topic
fan-out with the recovery stamp), the upstream equivalent of our embedding API.

Speaks the bench control protocol (bench/lib/host-control.ts) on stdin/stdout: JSON commands in,
JSON events out. Environment: BENCH_HOST (127.0.0.1), BENCH_PORT (required, a free port),
BENCH_JWT_SECRET (required, >= 32 bytes; upstream sends no server_ready without JWT),
BENCH_RECOVERY (1/0), BENCH_PING_S (25).
"""

import json
import os
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

from wse_server import RustWSEServer

WORDS = [
    "price", "volume", "order", "trade", "market", "symbol", "bid", "ask", "last", "open", "close",
    "high", "low", "delta", "gamma", "venue", "status", "filled", "partial", "cancel", "quote", "depth",
]


def padding_text(length):
    """Same padding generator as bench/lib/host-control.ts (same words, same LCG)."""
    seed = 12345
    parts = []
    size = 0
    while size < length:
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        part = WORDS[seed % len(WORDS)] + ("." if seed % 7 == 0 else " ") + str((seed >> 8) % 1000) + " "
        parts.append(part)
        size += len(part)
    return "".join(parts)[:length]


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def now_ms():
    return time.time() * 1000.0


def wait_port(host, port, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Host:
    """The upstream server plus the application duties it does not do itself."""

    def __init__(self):
        self.host = os.environ.get("BENCH_HOST", "127.0.0.1")
        self.port = int(os.environ["BENCH_PORT"])
        secret = os.environ.get("BENCH_JWT_SECRET", "")
        if len(secret.encode()) < 32:
            raise SystemExit("BENCH_JWT_SECRET must be at least 32 bytes (upstream needs JWT for server_ready)")
        self.recovery = os.environ.get("BENCH_RECOVERY", "1") != "0"
        ping_s = int(os.environ.get("BENCH_PING_S", "25"))
        self.server = RustWSEServer(
            self.host,
            self.port,
            max_connections=200_000,
            jwt_secret=secret.encode(),
            recovery_enabled=self.recovery,
            recovery_buffer_size=256,
            ping_interval=ping_s,
            idle_timeout=max(120, ping_s * 3),
        )
        self.server.enable_drain_mode()
        self.running = True
        self.sequence = {}
        self.pads = {}
        self.subscribes = 0

    def start(self):
        self.server.start()
        if not wait_port(self.host, self.port, 10):
            raise SystemExit(f"upstream server did not bind {self.host}:{self.port}")
        self.drainer = threading.Thread(target=self.drain_loop, daemon=True)
        self.drainer.start()

    def drain_loop(self):
        while self.running:
            try:
                events = self.server.drain_inbound(512, 20)
            except Exception as error:  # keep serving; report once
                emit({"ev": "error", "error": f"drain_inbound: {error}"})
                time.sleep(0.05)
                continue
            for kind, conn_id, data in events:
                if kind == "msg" and isinstance(data, dict):
                    self.on_message(conn_id, data)

    def on_message(self, conn_id, message):
        kind = message.get("t") or message.get("type")
        if kind not in ("subscription_update", "subscription"):
            return
        p = message.get("p") or message.get("payload") or {}
        topics = [t for t in (p.get("topics") or []) if isinstance(t, str)]
        if p.get("action", "subscribe") == "unsubscribe":
            self.server.unsubscribe_connection(conn_id, topics)
            return
        recover = bool(p.get("recover")) and self.recovery
        positions = p.get("recovery") or {}
        recovery = {}
        all_recovered = True
        for topic in topics:
            position = positions.get(topic) or {}
            if self.recovery:
                result = self.server.subscribe_with_recovery(
                    conn_id, [topic], recover, position.get("epoch"), position.get("offset"))
                info = (result.get("topics") or {}).get(topic) or {}
                recovered = bool(info.get("recovered"))
                recovery[topic] = {
                    "epoch": info.get("epoch"),
                    "offset": info.get("offset", 0) if info.get("epoch") is not None else -1,
                    "recovered": recovered,
                    "count": info.get("count", 0),
                    "recoverable": info.get("recoverable", False),
                }
                all_recovered = all_recovered and recovered
            else:
                self.server.subscribe_connection(conn_id, [topic])
        self.subscribes += 1
        reply = {
            "t": "subscription_update",
            "p": {
                "action": "subscribe",
                "success": True,
                "success_topics": topics,
                "failed_topics": [],
                "recoverable": self.recovery,
                "recovered": bool(topics) and all_recovered,
                "recovery": recovery,
            },
        }
        self.server.send_event(conn_id, reply)

    def payload_json(self, topic, size):
        pad = self.pads.get(size)
        if pad is None:
            pad = self.pads[size] = padding_text(max(0, size - 48))
        n = self.sequence.get(topic, 0)
        self.sequence[topic] = n + 1
        ts = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        payload = json.dumps({"pad": pad, "n": n, "ts0": now_ms()}, separators=(",", ":"))
        return f'{{"t":"bench","id":"{uuid.uuid4()}","ts":"{ts}","v":1,"p":{payload}}}'

    def publish(self, command):
        topics = command["topics"]
        total = int(command["count"]) * len(topics)
        rate = float(command.get("rate") or 0)
        size = int(command.get("size") or 100)
        started = time.monotonic()
        sent = 0
        broadcast = self.server.broadcast_local
        while sent < total:
            if rate > 0:
                due = min(total, int((time.monotonic() - started) * rate) + 1)
            else:
                due = total
            while sent < due:
                topic = topics[sent % len(topics)]
                broadcast(topic, self.payload_json(topic, size))
                sent += 1
            if sent < total:
                time.sleep(0.001)
        return sent

    def serve(self):
        emit({"ev": "ready", "pid": os.getpid(), "port": self.port, "system": "upstream"})
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                command = json.loads(line)
            except ValueError:
                emit({"ev": "error", "error": f"bad command: {line[:100]}"})
                continue
            if command.get("cmd") == "publish":
                started_at = now_ms()
                count = self.publish(command)
                emit({"ev": "published", "count": count, "startedAt": started_at, "endedAt": now_ms()})
            elif command.get("cmd") == "exit":
                break
            else:
                emit({"ev": "error", "error": f"unknown command {command.get('cmd')}"})
        self.running = False
        self.drainer.join(timeout=1.0)
        try:
            self.server.stop()
        except RuntimeError as error:  # the drain thread may still hold the server briefly
            emit({"ev": "error", "error": f"stop: {error}"})
        emit({"ev": "exit"})


def main():
    host = Host()
    host.start()
    host.serve()


if __name__ == "__main__":
    main()
