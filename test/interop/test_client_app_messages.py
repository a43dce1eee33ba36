"""Upstream wse-client 2.5.1: `send`, `send_with_retry`, `send_batch` reaching the application's
message hook, and `request_snapshot` answered by the snapshot hook (PROTOCOL.md §4-5)."""

from __future__ import annotations

import asyncio

from events import of_type
from support import async_wait_until
from test_client_topics import connected, topic


def messages_of(host, user: str) -> list[dict]:
    return [m for m in host.messages() if m["userId"] == user]


async def test_send_reaches_the_message_hook(app_host, client_factory):
    client = await connected(client_factory, app_host, "send-1")
    assert await client.send("update_settings", {"theme": "dark"}, correlation_id="cid-1")
    await async_wait_until(lambda: messages_of(app_host, "send-1"), 5, "the hook call")
    [msg] = messages_of(app_host, "send-1")
    assert msg["type"] == "update_settings"
    assert msg["payload"] == {"theme": "dark"}
    assert msg["cid"] == "cid-1"


async def test_send_with_retry_reaches_the_message_hook_once(app_host, client_factory):
    client = await connected(client_factory, app_host, "send-2")
    assert await client.send_with_retry("order", {"qty": 3}, max_retries=3)
    await async_wait_until(lambda: messages_of(app_host, "send-2"), 5, "the hook call")
    await asyncio.sleep(0.3)
    assert [(m["type"], m["payload"]) for m in messages_of(app_host, "send-2")] == [("order", {"qty": 3})]


async def test_send_batch_is_unwrapped_in_order(app_host, client_factory):
    client = await connected(client_factory, app_host, "send-3")
    batch = [("step", {"n": i}) for i in range(5)] + [("done", {})]
    assert await client.send_batch(batch)
    await async_wait_until(lambda: len(messages_of(app_host, "send-3")) >= 6, 5, "six hook calls")
    got = [(m["type"], m["payload"]) for m in messages_of(app_host, "send-3")]
    assert got == batch


async def test_messages_keep_their_order_across_kinds(app_host, client_factory):
    client = await connected(client_factory, app_host, "send-4")
    await client.send("a", {"i": 1})
    await client.send_batch([("b", {"i": 2}), ("c", {"i": 3})])
    await client.send_with_retry("d", {"i": 4})
    await async_wait_until(lambda: len(messages_of(app_host, "send-4")) >= 4, 5, "four hook calls")
    assert [m["type"] for m in messages_of(app_host, "send-4")] == ["a", "b", "c", "d"]


async def test_request_snapshot_is_answered_by_the_snapshot_hook(app_host, client_factory):
    client = await connected(client_factory, app_host, "snap-1")
    t = topic("snap")
    await asyncio.to_thread(app_host.publish, t, "state", {"price": 101})
    assert await client.subscribe([t])
    await asyncio.sleep(0.1)
    assert await client.request_snapshot([t])
    skipped: list = []
    snap = await of_type(client, "topic_snapshot", 5, skipped)
    assert snap.category == "S"
    assert snap.payload["topic"] == t
    assert snap.payload["data"] == {"price": 101}
    done = await of_type(client, "snapshot_complete", 5)
    assert done.payload.get("success") is True
    assert t in done.payload.get("topics", [])
    # The client clears its one-outstanding-request guard on snapshot_complete.
    assert client._snapshot_requested is False


async def test_snapshot_for_a_topic_without_state_completes_empty(app_host, client_factory):
    client = await connected(client_factory, app_host, "snap-2")
    t = topic("nostate")
    assert await client.request_snapshot([t])
    done = await of_type(client, "snapshot_complete", 5)
    assert done.payload.get("snapshots_sent") == 0
