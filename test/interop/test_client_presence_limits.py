"""Upstream wse-client 2.5.1: presence events (PROTOCOL.md §5), rate-limit feedback (§7) and the
synchronous `SyncWSEClient` with callbacks."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from wse_client import SyncWSEClient, WSETimeoutError

from events import next_matching
from support import OurServer, async_wait_until, ours_available, upstream_host, wait_until
from test_client_topics import connected, topic


async def join_with_presence(client, t: str, data: dict) -> None:
    # The Python client has no presence argument; the subscription frame is sent as a message.
    assert await client.send("subscription_update", {"action": "subscribe", "topics": [t], "presence": data})


def about(user: str, kind: str):
    return lambda e: e.type == kind and e.payload.get("user_id") == user


async def test_presence_join_update_and_leave(publisher, client_factory):
    t = topic("room")
    alice = await connected(client_factory, publisher, "alice")
    await join_with_presence(alice, t, {"status": "here"})
    await asyncio.sleep(0.2)
    bob = await connected(client_factory, publisher, "bob")
    await join_with_presence(bob, t, {"status": "busy"})

    joined = await next_matching(alice, about("bob", "presence_join"), 5, "bob's presence_join")
    assert joined.payload["data"] == {"status": "busy"}
    assert joined.category == "WSE"
    if isinstance(publisher, OurServer):
        assert joined.payload.get("topic") == t  # (fix) upstream omits the topic

    assert await bob.send("presence_update", {"data": {"status": "away"}})
    updated = await next_matching(alice, about("bob", "presence_update"), 5, "bob's presence_update")
    assert updated.payload["data"] == {"status": "away"}

    await bob.disconnect()
    left = await next_matching(alice, about("bob", "presence_leave"), 5, "bob's presence_leave")
    assert left.payload["user_id"] == "bob"


async def test_presence_counts_users_not_connections(ours, client_factory):
    t = topic("multi")
    watcher = await connected(client_factory, ours, "watcher")
    await join_with_presence(watcher, t, {})
    first = await connected(client_factory, ours, "carol")
    await join_with_presence(first, t, {"device": 1})
    await next_matching(watcher, about("carol", "presence_join"), 5, "carol's join")
    second = await connected(client_factory, ours, "carol")
    await join_with_presence(second, t, {"device": 2})
    await first.disconnect()
    await asyncio.sleep(0.5)
    # carol is still present through her second connection: no leave yet.
    leaves = [e for e in await _drain(watcher, 0.3) if about("carol", "presence_leave")(e)]
    assert leaves == []
    await second.disconnect()
    await next_matching(watcher, about("carol", "presence_leave"), 5, "carol's leave")


async def _drain(client, seconds: float) -> list:
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            out.append(await client.recv(timeout=left))
        except asyncio.TimeoutError:
            break
    return out


@pytest.fixture(scope="module")
def ours_limited():
    reason = ours_available()
    if reason:
        pytest.skip(f"our server not available: {reason}")
    server = OurServer(rate_limit_capacity=20, rate_limit_refill=2, rate_limit_abuse=1000)
    yield server
    server.stop()


def capture(client, kind: str) -> list:
    """Events of one type, captured by an `on()` handler at dispatch time (the iterator queue
    drops its oldest entries when a flood overfills it)."""
    seen: list = []
    client.on(kind)(seen.append)
    return seen


async def test_inbound_rate_limit_warns_then_rejects(ours_limited, client_factory):
    client = await connected(client_factory, ours_limited, "chatty")
    warnings = capture(client, "rate_limit_warning")
    errors = capture(client, "error")
    for i in range(30):
        assert await client.send("spam", {"i": i})
    await async_wait_until(lambda: warnings and errors, 5, "a rate_limit_warning and an error")
    warning = warnings[0].payload
    assert {"current_rate", "limit", "remaining", "retry_after"} <= set(warning)
    assert 0 <= warning["remaining"] <= 20 * 0.2
    assert errors[0].payload.get("code") == "RATE_LIMITED"
    assert errors[0].payload.get("retry_after") is not None
    # Throttled, not dropped.
    await asyncio.sleep(0.3)
    assert client.is_connected


async def test_rate_limit_warning_limit_is_the_capacity_like_upstream(ours_limited, client_factory):
    # Upstream and the Python client's log ("remaining/limit") read `limit` as the bucket size.
    client = await connected(client_factory, ours_limited, "chatty-2")
    warnings = capture(client, "rate_limit_warning")
    for i in range(25):
        await client.send("spam", {"i": i})
    await async_wait_until(lambda: warnings, 5, "a rate_limit_warning")
    assert warnings[0].payload["limit"] == 20


@pytest.fixture(scope="module")
def upstream_limited():
    host = upstream_host("--rate-capacity", "50", "--rate-refill", "1")
    yield host
    host.stop()


async def test_upstream_rate_limit_feedback_is_about_its_own_output(upstream_limited, client_factory):
    # Upstream has no inbound limit; its bucket throttles its own send_event output. The client
    # shows the same events either way (docs/COMPATIBILITY.md).
    client = await connected(client_factory, upstream_limited, "flooded")
    warnings = capture(client, "rate_limit_warning")
    errors = capture(client, "error")
    await asyncio.to_thread(upstream_limited.send_direct, "flooded", "hello", {})
    got = await asyncio.to_thread(upstream_limited.call, "POST", "/test/flood", {"userId": "flooded", "count": 80})
    assert got["delivered"] < 80
    await async_wait_until(lambda: warnings and errors, 5, "a rate_limit_warning and an error")
    assert warnings[0].payload["limit"] == 50
    assert errors[0].payload["code"] == "RATE_LIMITED"


def sync_subscribed(client, topics: list[str], server) -> None:
    """`subscribed` for the sync client: a marker publication is repeated until it arrives."""
    marker = topic("marker")
    assert client.subscribe([*topics, marker])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        server.publish(marker, "marker", {})
        try:
            while True:
                if client.recv(timeout=0.5).topic == marker:
                    return
        except WSETimeoutError:
            continue
    raise TimeoutError(f"subscription to {topics} not live within 10 s")


def test_sync_client_with_callbacks(publisher):
    t = topic("sync")
    client = SyncWSEClient(publisher.ws_url, token=publisher.token("sync-user"))
    seen: list = []
    done = threading.Event()

    @client.on("tick")
    def on_tick(event):
        seen.append((event.topic, event.payload["n"], event.offset))
        if len(seen) == 3:
            done.set()

    client.connect(timeout=15)
    try:
        wait_until(lambda: client.is_fully_ready, 5, "sync client handshake")
        sync_subscribed(client, [t], publisher)
        positions = [publisher.publish(t, "tick", {"n": i}) for i in range(3)]
        runner = threading.Thread(target=client.run_forever, daemon=True)
        runner.start()
        assert done.wait(10), f"callbacks saw only {seen}"
        assert [s[1] for s in seen] == [0, 1, 2]
        assert [s[2] for s in seen] == [p["offset"] for p in positions]
        assert client.recovery_state[t] == (positions[-1]["epoch"], positions[-1]["offset"])
        assert client.send("sync_hello", {"ok": True})
        assert client.send_batch([("x", {}), ("y", {})])
    finally:
        client.close()
    assert not client.is_connected


def test_sync_client_recv_runs_handlers_and_times_out(publisher):
    t = topic("sync-recv")
    client = SyncWSEClient(publisher.ws_url, token=publisher.token("sync-recv"))
    calls: list = []
    client.on("ping_me")(lambda e: calls.append(e.payload))
    client.connect(timeout=15)
    try:
        sync_subscribed(client, [t], publisher)
        publisher.publish(t, "ping_me", {"v": 7})
        event = None
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            event = client.recv(timeout=max(0.01, deadline - time.monotonic()))
            if event.type == "ping_me":
                break
        assert event is not None and event.payload == {"v": 7}
        assert calls == [{"v": 7}]
        with pytest.raises(WSETimeoutError):
            client.recv(timeout=0.3)
    finally:
        client.close()
