"""Upstream wse-client 2.5.1: subscriptions and publications (PROTOCOL.md §4)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from events import of_type, on_topic, on_topics, quiet
from support import async_wait_until

HEX8 = re.compile(r"^[0-9a-f]{8}$")


def topic(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


async def connected(factory, server, user: str, **kwargs):
    client = factory(server.ws_url, token=server.token(user), **kwargs)
    await asyncio.wait_for(client.connect(), 15)
    await async_wait_until(lambda: client.is_fully_ready, 5, "handshake")
    return client


async def subscribed(client, topics: list[str], server) -> None:
    """Subscribes and proves the subscription is live: a marker topic is subscribed in the same
    frame and published to (again every 0.5 s, the reply is not visible to the application)
    until the client sees it."""
    marker = topic("marker")
    assert await client.subscribe([*topics, marker])
    deadline = time.monotonic() + 10
    while True:
        await asyncio.to_thread(server.publish, marker, "marker", {})
        try:
            await on_topic(client, marker, 1, 0.5)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"subscription to {topics} not live within 10 s") from None


async def test_publications_reach_a_subscriber_in_order_with_stamps(publisher, client_factory):
    client = await connected(client_factory, publisher, "sub-1")
    t = topic("prices")
    await subscribed(client, [t], publisher)
    positions = [await asyncio.to_thread(publisher.publish, t, "price", {"n": i}) for i in range(3)]
    events = await on_topic(client, t, 3)
    assert [e.type for e in events] == ["price"] * 3
    assert [e.payload["n"] for e in events] == [0, 1, 2]
    assert all(HEX8.match(e.epoch or "") for e in events)
    assert len({e.epoch for e in events}) == 1
    offsets = [e.offset for e in events]
    assert offsets == [positions[0]["offset"] + i for i in range(3)]
    assert events[0].category == "U"


async def test_first_publication_on_a_fresh_topic_is_not_dropped(publisher, client_factory):
    # The client trusts the subscribe reply's (epoch, offset) when recovered is false: a wrong
    # offset for an empty stream would make it drop offset 0 as a duplicate.
    client = await connected(client_factory, publisher, "fresh-1")
    t = topic("fresh")
    await subscribed(client, [t], publisher)
    await asyncio.to_thread(publisher.publish, t, "first", {"ok": True})
    [event] = await on_topic(client, t, 1)
    assert event.type == "first" and event.payload == {"ok": True}


async def test_recovery_state_tracks_the_last_delivered_position(publisher, client_factory):
    client = await connected(client_factory, publisher, "state-1")
    a, b = topic("a"), topic("b")
    await subscribed(client, [a, b], publisher)
    last_a = None
    for i in range(2):
        last_a = await asyncio.to_thread(publisher.publish, a, "ev", {"i": i})
    last_b = await asyncio.to_thread(publisher.publish, b, "ev", {"i": 9})
    await on_topics(client, {a: 2, b: 1})
    state = client.recovery_state
    assert state[b] == (last_b["epoch"], last_b["offset"])
    assert state[a] == (last_a["epoch"], last_a["offset"])
    assert HEX8.match(state[a][0])


async def test_initial_topics_from_the_constructor(publisher, client_factory):
    t = topic("initial")
    client = await connected(client_factory, publisher, "init-1", topics=[t])
    await subscribed(client, [], publisher)  # frames are handled in order: the initial one is live too
    await asyncio.to_thread(publisher.publish, t, "hello", {"x": 1})
    [event] = await on_topic(client, t, 1)
    assert event.payload == {"x": 1}


async def test_unsubscribe_stops_delivery(publisher, client_factory):
    client = await connected(client_factory, publisher, "unsub-1")
    gone, kept = topic("gone"), topic("kept")
    await subscribed(client, [gone, kept], publisher)
    assert await client.unsubscribe([gone])
    await subscribed(client, [], publisher)  # handled after the unsubscribe
    await asyncio.to_thread(publisher.publish, gone, "late", {})
    await asyncio.to_thread(publisher.publish, kept, "barrier", {})
    skipped = []
    await of_type(client, "barrier", 5, skipped)
    assert [e for e in skipped if e.topic == gone] == []
    assert await quiet(client, lambda e: e.topic == gone, 0.3) == []


async def test_two_subscribers_each_get_every_publication(publisher, client_factory):
    t = topic("fanout")
    first = await connected(client_factory, publisher, "fan-1")
    second = await connected(client_factory, publisher, "fan-2")
    await subscribed(first, [t], publisher)
    await subscribed(second, [t], publisher)
    for i in range(5):
        await asyncio.to_thread(publisher.publish, t, "n", {"i": i})
    got1 = await on_topic(first, t, 5)
    got2 = await on_topic(second, t, 5)
    assert [e.payload["i"] for e in got1] == list(range(5))
    assert [e.payload["i"] for e in got2] == list(range(5))


async def test_publications_through_the_embedding_api(embedded, client_factory):
    client = await connected(client_factory, embedded, "embed-1")
    t = topic("embedded")
    await subscribed(client, [t], embedded)
    top = await asyncio.to_thread(embedded.publish, t, "from_server_api", {"via": "createServer"})
    [event] = await on_topic(client, t, 1)
    assert event.type == "from_server_api"
    assert event.payload == {"via": "createServer"}
    assert (event.epoch, event.offset) == (top["epoch"], top["offset"])


async def test_broadcast_without_topic_reaches_every_client(app_host, client_factory):
    client = await connected(client_factory, app_host, "bcast-1")
    await asyncio.to_thread(app_host.call, "POST", "/api/broadcast", {"type": "announcement", "payload": {"m": 1}})
    event = await of_type(client, "announcement", 5)
    assert event.payload == {"m": 1}
    assert event.topic is None


async def test_direct_send_to_one_connection(app_host, client_factory):
    client = await connected(client_factory, app_host, "direct-1")
    await asyncio.to_thread(app_host.send_direct, "direct-1", "private", {"secret": 42})
    event = await of_type(client, "private", 5)
    assert event.payload == {"secret": 42}


async def test_large_publication_compressed_or_not_is_decoded(publisher, client_factory):
    # Above 1 KiB ours sends C: (zlib); upstream sends text. The client must read both.
    client = await connected(client_factory, publisher, "large-1")
    t = topic("large")
    await subscribed(client, [t], publisher)
    blob = "0123456789" * 1000
    await asyncio.to_thread(publisher.publish, t, "big", {"blob": blob, "n": 1})
    [event] = await on_topic(client, t, 1)
    assert event.payload == {"blob": blob, "n": 1}
