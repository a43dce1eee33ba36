"""Upstream wse-client 2.5.1 across a restart of our server on a shared Redis broker: the
client reconnects by itself, resubscribes and recovers every publication made (through another
node) while its server was down, on the same epoch (PROTOCOL.md §4; the issue's "restart our
server with a Redis broker")."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from events import on_topic, quiet
from support import OurServer, async_wait_until, free_port, ours_available, wait_until
from test_client_topics import connected, subscribed, topic


@pytest.fixture(scope="module")
def redis_url():
    reason = ours_available()
    if reason:
        pytest.skip(f"our server not available: {reason}")
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server is not installed (scripts/setup-system.sh installs it)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def ready() -> bool:
        try:
            import socket
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_until(ready, 10, "redis-server")
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def two_nodes(redis_url):
    first = OurServer(redis_url=redis_url)
    second = OurServer(redis_url=redis_url, jwt_secret=first.secret)
    yield first, second
    first.stop()
    second.stop()


async def test_restart_on_redis_recovers_everything_on_the_same_epoch(two_nodes, client_factory):
    node_a, node_b = two_nodes
    client = await connected(client_factory, node_a, "redis-1")
    t = topic("redis")
    await subscribed(client, [t], node_a)
    for i in range(2):
        await asyncio.to_thread(node_a.publish, t, "ev", {"i": i})
    before = await on_topic(client, t, 2)

    await asyncio.to_thread(node_a.process.stop)  # SIGTERM: drain (1012), the client keeps retrying
    missed = [await asyncio.to_thread(node_b.publish, t, "ev", {"i": i}) for i in range(2, 5)]
    await asyncio.to_thread(node_a._launch)  # same port, same settings, same Redis

    await async_wait_until(lambda: client.get_stats()["reconnect_count"] >= 1, 20, "a reconnect")
    recovered = await on_topic(client, t, 3, 20)
    assert [e.payload["i"] for e in recovered] == [2, 3, 4]
    assert [e.offset for e in recovered] == [m["offset"] for m in missed]
    await asyncio.to_thread(node_a.publish, t, "ev", {"i": 5})
    [live] = await on_topic(client, t, 1)
    assert live.payload == {"i": 5}
    assert {e.epoch for e in before + recovered + [live]} == {before[0].epoch}
    assert await quiet(client, lambda e: e.topic == t, 0.5) == []


async def test_failover_to_another_node_recovers_everything(two_nodes, client_factory):
    # The Python client's own endpoint pool: when its node dies, it reconnects to the other one,
    # which serves the same streams from Redis, so the recovery has the same epoch and no gap.
    node_a, node_b = two_nodes
    client = await connected(client_factory, node_a, "failover-1", endpoints=[node_a.ws_url, node_b.ws_url])
    t = topic("failover")
    await subscribed(client, [t], node_b)
    await asyncio.to_thread(node_b.publish, t, "ev", {"i": 0})
    [first] = await on_topic(client, t, 1)
    home = client._connection._active_endpoint
    home_node, other_node = (node_a, node_b) if home == node_a.ws_url else (node_b, node_a)

    home_node.process.proc.kill()  # SIGKILL: no close frame, no drain
    home_node.process.proc.wait(timeout=5)
    try:
        missed = [await asyncio.to_thread(other_node.publish, t, "ev", {"i": i}) for i in range(1, 4)]
        await async_wait_until(lambda: client._connection._active_endpoint == other_node.ws_url and client.is_fully_ready,
                               25, "failover to the other node")
        got = await on_topic(client, t, 3, 20)
        assert [e.payload["i"] for e in got] == [1, 2, 3]
        assert [e.offset for e in got] == [m["offset"] for m in missed]
        assert {e.epoch for e in got} == {first.epoch}
    finally:
        await asyncio.to_thread(home_node._launch)
