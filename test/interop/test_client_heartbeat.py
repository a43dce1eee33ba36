"""Upstream wse-client 2.5.1 and our heartbeat (PROTOCOL.md §7): the client recognises our
server's pings only in plaintext text frames whose first 25 characters hold `"t":"ping"`; that
recognition feeds its 40 s idle detector, and its PONG answers keep our idle timer happy."""

from __future__ import annotations

import asyncio
import time

import pytest

from support import OurServer, async_wait_until, ours_available
from test_client_topics import connected


def record_transport_frames(client) -> list:
    """Every frame as the transport sees it, before the ping/PONG fast path consumes some."""
    frames: list = []
    original = client._connection._handle_raw_message

    def spy(data):
        frames.append(data)
        original(data)

    client._connection._handle_raw_message = spy
    return frames


@pytest.fixture(scope="module")
def ours_fast_ping():
    reason = ours_available()
    if reason:
        pytest.skip(f"our server not available: {reason}")
    server = OurServer(ping_interval_ms=400, idle_timeout_ms=1500)
    yield server
    server.stop()


@pytest.mark.parametrize("encryption", [False, True], ids=["plain", "encrypted"])
async def test_server_pings_feed_the_client_idle_detector_and_keep_it_connected(ours_fast_ping, client_factory, encryption):
    client = await connected(client_factory, ours_fast_ping, f"hb-{encryption}", encryption=encryption)
    if encryption:
        await async_wait_until(lambda: client._security.is_enabled, 5, "the AES key")
    frames = record_transport_frames(client)
    started = time.monotonic()
    await asyncio.sleep(3.5)  # more than twice the server's idle timeout
    pings = [f for f in frames if isinstance(f, str) and f.startswith('{"c":"WSE","t":"ping"')]
    assert len(pings) >= 3, f"server pings seen: {len(pings)} of {len(frames)} frames"
    # The transport fast path recognised them (it refreshes the idle clock on every ping).
    assert client._connection._last_pong is not None and client._connection._last_pong > started + 2
    # The client's PONG answers count as activity: no idle close, no reconnect.
    assert client.is_connected
    assert client.get_stats()["reconnect_count"] == 0
