"""Upstream wse-client 2.5.1 with `encryption=True`: ECDH P-256 + HKDF + AES-256-GCM end to end
(PROTOCOL.md §6)."""

from __future__ import annotations

import asyncio
import json
import time

from events import on_topic
from support import async_wait_until
from test_client_topics import connected, subscribed, topic


def record_frames(client) -> list:
    """Records every raw frame the client receives (text or bytes), before decoding."""
    frames: list = []
    original = client._on_raw_message

    def spy(data):
        frames.append(data)
        original(data)

    client._connection._on_message = spy
    return frames


async def encrypted_client(factory, server, user: str):
    client = await connected(factory, server, user, encryption=True)
    await async_wait_until(lambda: client._security.is_enabled, 5, "the AES key from server_hello")
    return client


async def test_key_exchange_completes(publisher, client_factory):
    client = await encrypted_client(client_factory, publisher, "enc-1")
    assert client._server_features.get("encryption") is True


async def test_publications_arrive_encrypted_and_decrypt(publisher, client_factory):
    client = await encrypted_client(client_factory, publisher, "enc-2")
    frames = record_frames(client)
    t = topic("secret")
    await subscribed(client, [t], publisher)
    await asyncio.to_thread(publisher.publish, t, "classified", {"code": "x" * 40})
    [event] = await on_topic(client, t, 1)
    assert event.payload == {"code": "x" * 40}
    # The publication itself travelled as E: (its plaintext never appears on the wire).
    carrying = [f for f in frames if (isinstance(f, str) and "classified" in f) or
                (isinstance(f, bytes) and b"classified" in f)]
    assert carrying == [], f"publication sent in clear: {carrying[:1]!r}"
    assert any(isinstance(f, bytes) and f[:2] == b"E:" for f in frames)


async def test_large_encrypted_publication(publisher, client_factory):
    # Above the compression threshold: the upstream client can only read JSON text inside E:.
    client = await encrypted_client(client_factory, publisher, "enc-3")
    t = topic("big")
    await subscribed(client, [t], publisher)
    blob = "abcdefghij" * 800
    await asyncio.to_thread(publisher.publish, t, "big", {"blob": blob})
    [event] = await on_topic(client, t, 1)
    assert event.payload["blob"] == blob


async def test_encrypted_client_messages_reach_the_application(app_host, client_factory):
    client = await encrypted_client(client_factory, app_host, "enc-4")
    assert await client.send("sealed_note", {"text": "hello"}, correlation_id="c-enc-4")
    await async_wait_until(
        lambda: any(m["type"] == "sealed_note" for m in app_host.messages()), 5, "the app hook to see it")
    [msg] = [m for m in app_host.messages() if m["type"] == "sealed_note"]
    assert msg["payload"] == {"text": "hello"}
    assert msg["userId"] == "enc-4"


async def test_encrypted_recovery_after_a_killed_socket(publisher, client_factory):
    client = await encrypted_client(client_factory, publisher, "enc-5")
    t = topic("enc-recover")
    await subscribed(client, [t], publisher)
    await asyncio.to_thread(publisher.publish, t, "ev", {"i": 0})
    await on_topic(client, t, 1)
    client._connection._ws.transport.abort()
    for i in range(1, 4):
        await asyncio.to_thread(publisher.publish, t, "ev", {"i": i})
    await async_wait_until(lambda: client.get_stats()["reconnect_count"] >= 1, 10, "a reconnect")
    got = await on_topic(client, t, 3, 15)
    assert [e.payload["i"] for e in got] == [1, 2, 3]
    # A fresh key was negotiated on the new connection.
    assert client._security.is_enabled


async def _encrypted_ping_answer(client, timeout: float) -> str | None:
    frames = record_frames(client)
    ping = json.dumps({"c": "WSE", "t": "ping", "p": {"timestamp": int(time.time() * 1000)}, "v": 1},
                      separators=(",", ":"))
    assert await client._connection.send(ping)  # encrypted (E:) because the key exists
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in frames:
            if isinstance(f, str) and f[:25].find('"t":"PONG"') >= 0:
                return f
        await asyncio.sleep(0.05)
    return None


async def test_encrypted_ping_gets_a_plaintext_pong_that_feeds_idle_detection(ours, client_factory):
    client = await encrypted_client(client_factory, ours, "enc-6")
    pong = await _encrypted_ping_answer(client, 3)
    assert pong is not None, "no plaintext PONG for an E: ping"
    assert pong.startswith('{"c":"WSE","t":"PONG"')


async def test_upstream_gives_an_encrypted_ping_no_pong(upstream, client_factory):
    # Documents the upstream defect our server fixes (docs/COMPATIBILITY.md).
    client = await encrypted_client(client_factory, upstream, "enc-7")
    assert await _encrypted_ping_answer(client, 1.5) is None
