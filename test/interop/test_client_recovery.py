"""Upstream wse-client 2.5.1: abnormal disconnects, automatic reconnect, resubscribe and
recovery of every missed publication (PROTOCOL.md §4, §7)."""

from __future__ import annotations

import asyncio

from wse_client import ConnectionState

from events import on_topic, on_topics, quiet
from support import async_wait_until
from test_client_topics import connected, subscribed, topic


async def _kill_transport(client) -> None:
    """Drops the TCP connection under the client without a close frame (code 1006 on its side)."""
    transport = client._connection._ws.transport
    transport.abort()


async def _assert_recovers_everything(server, client, t: str, before: int, missed: int, after: int) -> None:
    for i in range(before):
        await asyncio.to_thread(server.publish, t, "ev", {"i": i})
    got = await on_topic(client, t, before)
    assert [e.payload["i"] for e in got] == list(range(before))

    await _kill_transport(client)
    for i in range(before, before + missed):
        await asyncio.to_thread(server.publish, t, "ev", {"i": i})

    await async_wait_until(lambda: client.get_stats()["reconnect_count"] >= 1, 10, "a reconnect")
    await async_wait_until(lambda: client.is_fully_ready, 15, "the client to be ready again")
    recovered = await on_topic(client, t, missed, 15)
    assert [e.payload["i"] for e in recovered] == list(range(before, before + missed))

    for i in range(before + missed, before + missed + after):
        await asyncio.to_thread(server.publish, t, "ev", {"i": i})
    live = await on_topic(client, t, after)
    assert [e.payload["i"] for e in live] == list(range(before + missed, before + missed + after))
    # Exactly once: nothing repeats after the seam.
    assert await quiet(client, lambda e: e.topic == t, 0.5) == []
    offsets = [e.offset for e in got + recovered + live]
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))
    assert client.recovery_state[t][1] == offsets[-1]


async def test_killed_socket_reconnects_and_recovers_every_missed_event(publisher, client_factory):
    client = await connected(client_factory, publisher, "rec-1")
    t = topic("recover")
    await subscribed(client, [t], publisher)
    await _assert_recovers_everything(publisher, client, t, before=3, missed=5, after=2)


async def test_recovery_of_several_topics_each_from_its_own_position(publisher, client_factory):
    client = await connected(client_factory, publisher, "rec-2")
    a, b = topic("multi-a"), topic("multi-b")
    await subscribed(client, [a, b], publisher)
    # Different histories so one shared position would be wrong for one of them.
    for i in range(4):
        await asyncio.to_thread(publisher.publish, a, "a", {"i": i})
    await asyncio.to_thread(publisher.publish, b, "b", {"i": 0})
    await on_topics(client, {a: 4, b: 1})
    await _kill_transport(client)
    await asyncio.to_thread(publisher.publish, a, "a", {"i": 4})
    for i in range(1, 4):
        await asyncio.to_thread(publisher.publish, b, "b", {"i": i})
    await async_wait_until(lambda: client.get_stats()["reconnect_count"] >= 1, 10, "a reconnect")
    got = await on_topics(client, {a: 1, b: 3}, 15)
    got_a, got_b = got[a], got[b]
    assert [e.payload["i"] for e in got_a] == [4]
    assert [e.payload["i"] for e in got_b] == [1, 2, 3]
    assert await quiet(client, lambda e: e.topic in (a, b), 0.5) == []


async def test_server_side_disconnect_with_a_retry_code_recovers(ours, client_factory):
    client = await connected(client_factory, ours, "rec-3")
    t = topic("server-kick")
    await subscribed(client, [t], ours)
    await asyncio.to_thread(ours.publish, t, "ev", {"i": 0})
    await on_topic(client, t, 1)
    # 4000 (idle) is a code the Python client retries; 1000 would be final for it.
    res = await asyncio.to_thread(ours.disconnect, user_id="rec-3", code=4000, reason="interop kick")
    assert res
    for i in range(1, 4):
        await asyncio.to_thread(ours.publish, t, "ev", {"i": i})
    await async_wait_until(lambda: client.get_stats()["reconnect_count"] >= 1, 10, "a reconnect")
    got = await on_topic(client, t, 3, 15)
    assert [e.payload["i"] for e in got] == [1, 2, 3]


async def test_server_restart_is_survived_and_the_client_rebaselines(ours, client_factory):
    client = await connected(client_factory, ours, "restart-1")
    t = topic("restart")
    await subscribed(client, [t], ours)
    before = await asyncio.to_thread(ours.publish, t, "ev", {"i": 0})
    await on_topic(client, t, 1)
    await asyncio.to_thread(ours.restart)
    await async_wait_until(lambda: client.get_stats()["reconnect_count"] >= 1, 15, "a reconnect")
    await async_wait_until(lambda: client.is_fully_ready, 20, "ready after restart")
    await asyncio.sleep(0.5)  # the resubscribe reply re-baselines the client on the new epoch
    after = await asyncio.to_thread(ours.publish, t, "ev", {"i": 1})
    assert after["epoch"] != before["epoch"]
    [event] = await on_topic(client, t, 1, 10)
    assert event.payload == {"i": 1}
    assert client.state == ConnectionState.CONNECTED


async def test_gap_detected_by_the_client_is_filled_by_a_recovery_request(publisher, client_factory):
    # A live gap (o > last + 1) makes the client drop the frame and re-send subscription_update
    # for the already-subscribed topic with its last in-order position; the server must replay
    # exactly what follows that position, on the live subscription.
    client = await connected(client_factory, publisher, "gap-1")
    t = topic("gap")
    await subscribed(client, [t], publisher)
    for i in range(3):
        await asyncio.to_thread(publisher.publish, t, "ev", {"i": i})
    got = await on_topic(client, t, 3)
    epoch, last = got[-1].epoch, got[-1].offset
    # Pretend the client never saw the last two publications.
    client._sequencer.set_topic_position(t, epoch, last - 2)
    client._recovery_state[t] = (epoch, last - 2)
    await asyncio.to_thread(publisher.publish, t, "ev", {"i": 3})
    refilled = await on_topic(client, t, 3, 10)
    assert [e.offset for e in refilled] == [last - 1, last, last + 1]
    assert [e.payload["i"] for e in refilled] == [1, 2, 3]
    assert await quiet(client, lambda e: e.topic == t, 0.5) == []
    assert client.recovery_state[t] == (epoch, last + 1)
