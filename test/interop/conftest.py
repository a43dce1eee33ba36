"""Fixtures: the servers under test and the upstream Python client.

Targets (module-scoped, started once per test module, always torn down):
- `ours`      our standalone server, `bun server/main.ts` (JWT + API key from the environment)
- `ours_deno` the same server on Deno, `deno run -A server/deno.ts`
- `embedded`  our embedding API, `bun test/interop/embedded_host.ts` (records hook calls)
- `upstream`  the upstream wse-server 2.5.1 through `upstream_server.py` (a baseline: a test that
              passes there and fails on ours shows a compatibility bug on our side)
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

import pytest
import pytest_asyncio
from wse_client import AsyncWSEClient, ReconnectConfig

from support import OurServer, ScriptHost, embedded_host, ours_available, upstream_host


def _start(kind: str, **settings: Any):
    if kind in ("ours", "ours_deno", "embedded"):
        reason = ours_available()
        if reason:
            pytest.skip(f"our server not available: {reason}")
    if kind == "ours":
        return OurServer(**settings)
    if kind == "ours_deno":
        return OurServer(runtime="deno", **settings)
    if kind == "embedded":
        return embedded_host(**settings)
    flags: list[str] = []
    return upstream_host(*flags)


@pytest.fixture(scope="module")
def ours():
    server = _start("ours")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ours_deno():
    server = _start("ours_deno")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def embedded():
    host = _start("embedded")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def upstream():
    host = _start("upstream")
    yield host
    host.stop()


@pytest.fixture(scope="module", params=["ours", "ours_deno", "upstream"])
def publisher(request):
    """A server with `publish(topic, type, payload)`: our CLI server on Bun and on Deno, and the
    upstream baseline."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module", params=["embedded", "upstream"])
def app_host(request):
    """A server whose application hook records messages (`messages()`), ours and upstream."""
    return request.getfixturevalue(request.param)


@pytest.fixture(autouse=True)
def _upstream_alive(request):
    """Before a test that uses the upstream host, make sure it still accepts connections."""
    for name in ("publisher", "app_host", "upstream", "upstream_limited"):
        if name in request.fixturenames:
            host = request.getfixturevalue(name)
            if isinstance(host, ScriptHost) and "upstream" in host.name:
                host.ensure_alive()


FAST_RECONNECT = ReconnectConfig(base_delay=0.2, max_delay=1.0, factor=1.5, jitter=False)


@pytest_asyncio.fixture
async def client_factory() -> AsyncIterator[Callable[..., AsyncWSEClient]]:
    """Creates `AsyncWSEClient`s with fast reconnects; every one is disconnected at teardown."""
    made: list[AsyncWSEClient] = []

    def make(url: str, **kwargs: Any) -> AsyncWSEClient:
        kwargs.setdefault("reconnect", FAST_RECONNECT)
        client = AsyncWSEClient(url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            await asyncio.wait_for(client.disconnect(), 5)
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
