"""Helpers shared by the interop tests: free ports, HS256 tokens, HTTP calls, process hosts.

Everything here is bounded in time: a helper that waits takes a timeout and raises
`TimeoutError` with what it was waiting for.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "node_modules" / ".bin"


def bun_path() -> str:
    """The project's pinned bun (node_modules/.bin first, then PATH)."""
    local = BIN / "bun"
    if local.exists():
        return str(local)
    found = shutil.which("bun")
    if not found:
        raise RuntimeError("bun not found: run npm ci")
    return found


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_secret() -> str:
    """A 48-byte random HS256 secret, base64url."""
    return secrets.token_urlsafe(48)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret: str, sub: str = "user-1", ttl: int = 600, **claims: Any) -> str:
    """An HS256 JWT signed with `secret` (written here so tests do not trust either side's JWT code)."""
    now = int(time.time())
    body = {"sub": sub, "iat": now, "exp": now + ttl, **claims}
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(body, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{_b64url(sig)}"


def http_json(method: str, url: str, body: Any = None, api_key: str | None = None, timeout: float = 10) -> Any:
    """One JSON request; raises `RuntimeError` with the status and body on a non-2xx answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if api_key:
        req.add_header("authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            text = res.read().decode()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {url} -> {exc.code}: {exc.read().decode(errors='replace')}") from exc
    return json.loads(text) if text else None


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Polls `predicate` until true; `TimeoutError(what)` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def async_wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Async `wait_until`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class Process:
    """A child process whose stdout+stderr are collected in the background (tail kept for errors)."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None, name: str = "process") -> None:
        self.name = name
        self.cmd = cmd
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        threading.Thread(target=self._pump, daemon=True, name=f"{name}-output").start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                if len(self.lines) > 5000:
                    del self.lines[:1000]
                self._cond.notify_all()

    def wait_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first output line matching `predicate`."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no matching output within {timeout}s:\n{self.tail()}")
                self._cond.wait(min(left, 0.2))

    def tail(self, n: int = 60) -> str:
        """The last `n` lines of output."""
        return "\n".join(self.lines[-n:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 8) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
            except OSError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def deno_path() -> str:
    """The project's pinned deno (node_modules/.bin first, then PATH)."""
    local = BIN / "deno"
    if local.exists():
        return str(local)
    found = shutil.which("deno")
    if not found:
        raise RuntimeError("deno not found: run npm ci")
    return found


class OurServer:
    """Our standalone server, configured by environment variables: `bun server/main.ts`, or
    `deno run -A server/deno.ts` with `runtime="deno"`."""

    def __init__(self, runtime: str = "bun", **settings: Any) -> None:
        self.runtime = runtime
        self.port = free_port()
        self.secret = settings.pop("jwt_secret", None) or random_secret()
        self.api_key = "interop-" + secrets.token_hex(16)
        env = {
            "WSE_HOST": "127.0.0.1",
            "WSE_PORT": str(self.port),
            "WSE_JWT_SECRET": self.secret,
            "WSE_API_KEY": self.api_key,
            "WSE_LOG_LEVEL": "warn",
        }
        for key, value in settings.items():
            env["WSE_" + key.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
        self.ws_url = f"ws://127.0.0.1:{self.port}/wse"
        self.http_url = f"http://127.0.0.1:{self.port}"
        self._env = env
        self._launch()

    def _launch(self) -> None:
        if self.runtime == "deno":
            cmd = [deno_path(), "run", "-A", str(REPO / "server" / "deno.ts")]
        else:
            cmd = [bun_path(), str(REPO / "server" / "main.ts")]
        self.process = Process(cmd, env=self._env, name=f"our server ({self.runtime})")
        wait_until(self._healthy, 20, f"our server /health on :{self.port}")

    def restart(self) -> None:
        """SIGTERM (graceful drain), then start again on the same port with the same settings."""
        self.process.stop()
        self._launch()

    def _healthy(self) -> bool:
        if not self.process.alive():
            raise RuntimeError(f"our server exited:\n{self.process.tail()}")
        try:
            with urllib.request.urlopen(f"{self.http_url}/health", timeout=1) as res:
                return res.status == 200
        except OSError:
            return False

    def token(self, sub: str = "user-1", **claims: Any) -> str:
        return mint_token(self.secret, sub, **claims)

    def publish(self, topic: str, type: str, payload: Any, **extra: Any) -> dict[str, Any]:
        """`POST /api/publish`; returns `{epoch, offset, ...}`."""
        return http_json("POST", f"{self.http_url}/api/publish",
                         {"topic": topic, "type": type, "payload": payload, **extra}, self.api_key)

    def disconnect(self, **body: Any) -> Any:
        """`POST /api/disconnect` (e.g. `user_id=..., code=4000`)."""
        return http_json("POST", f"{self.http_url}/api/disconnect", body, self.api_key)

    def stop(self) -> None:
        self.process.stop()


class ScriptHost:
    """A host script that prints one JSON line `{ws_url, http_url, ...}` when it is ready
    (`embedded_host.ts` on our embedding API, `upstream_server.py` on the upstream server)."""

    def __init__(self, cmd: list[str], secret: str, api_key: str | None, name: str) -> None:
        self.secret = secret
        self.api_key = api_key
        self.name = name
        self.cmd = cmd
        self.restarts = 0
        self._launch()

    def _launch(self) -> None:
        self.process = Process(self.cmd, name=self.name)
        line = self.process.wait_line(lambda l: l.startswith("{") and '"ws_url"' in l, 30)
        info = json.loads(line)
        self.ws_url: str = info["ws_url"]
        self.http_url: str = info["http_url"]

    def accepts(self, timeout: float = 3) -> bool:
        """True when a WebSocket handshake completes and `server_ready` arrives within `timeout`."""
        from websockets.sync.client import connect

        try:
            headers = {"Authorization": f"Bearer {self.token('__health__')}"}
            with connect(self.ws_url, additional_headers=headers, open_timeout=timeout) as ws:
                return '"server_ready"' in str(ws.recv(timeout=timeout))
        except Exception:  # noqa: BLE001 - any failure means "not accepting"
            return False

    def ensure_alive(self) -> None:
        """Restarts the host when it stopped accepting connections (upstream 2.5.1 stalls now
        and then, docs/COMPATIBILITY.md row 35); says so on stderr."""
        if self.accepts():
            return
        print(f"\n[interop] {self.name} stopped accepting connections; restarting it", file=sys.stderr)
        self.restarts += 1
        self.process.stop()
        self._launch()

    def token(self, sub: str = "user-1", **claims: Any) -> str:
        return mint_token(self.secret, sub, **claims)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return http_json(method, f"{self.http_url}{path}", body, self.api_key)

    def publish(self, topic: str, type: str, payload: Any, **extra: Any) -> dict[str, Any]:
        return self.call("POST", "/api/publish", {"topic": topic, "type": type, "payload": payload, **extra})

    def send_direct(self, user: str, type: str, payload: Any, timeout: float = 5) -> None:
        """`/test/send` to a user, retried until the host knows a connection of that user (hosts
        learn about connections asynchronously)."""
        wait_until(lambda: self.call("POST", "/test/send", {"userId": user, "type": type, "payload": payload})["sent"] > 0,
                   timeout, f"a connection of {user} at the host")

    def messages(self) -> list[dict[str, Any]]:
        """Application messages the host's message hook received."""
        return self.call("GET", "/test/messages")

    def stop(self) -> None:
        self.process.stop()


def embedded_host(**options: Any) -> ScriptHost:
    """Starts `test/interop/embedded_host.ts` (our `createServer` with recording hooks)."""
    secret = random_secret()
    api_key = "interop-" + secrets.token_hex(16)
    cfg = json.dumps({"jwtSecret": secret, "apiKey": api_key, **options})
    return ScriptHost([bun_path(), str(REPO / "test" / "interop" / "embedded_host.ts"), cfg], secret, api_key,
                      "embedded host")


def upstream_host(*flags: str) -> ScriptHost:
    """Starts `test/interop/upstream_server.py` (the upstream wse-server with our host app)."""
    secret = random_secret()
    api_key = "interop-" + secrets.token_hex(16)
    cmd = [sys.executable, str(REPO / "test" / "interop" / "upstream_server.py"), f"--jwt-secret={secret}",
           f"--api-key={api_key}", "--exit-on-stdin-eof", *flags]
    return ScriptHost(cmd, secret, api_key, "upstream host")


def ours_available() -> str | None:
    """None when our server can be started, else the reason it cannot (a file not landed yet)."""
    for rel in ("server/main.ts", "server/mod.ts", "server/deno.ts"):
        if not (REPO / rel).exists():
            return f"{rel} does not exist yet"
    return None
