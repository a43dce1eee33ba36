"""Reading events from an upstream `AsyncWSEClient` with bounded waits."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from wse_client import AsyncWSEClient, ConnectionState, WSEConnectionError, WSEEvent


def _drop_stale_sentinels(client: AsyncWSEClient) -> bool:
    """The upstream client pushes its end-of-stream sentinel (None) whenever its state becomes
    ERROR, also when one reconnect attempt fails while it keeps retrying. When the client is
    still alive, remove those sentinels so reading goes on; False when it really ended."""
    task = client._connection._reconnect_task
    retrying = task is not None and not task.done()
    if client.state == ConnectionState.DISCONNECTED or (client.state == ConnectionState.ERROR and not retrying):
        return False
    queue = client._event_queue
    kept = []
    while queue is not None and not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            kept.append(item)
    for item in kept:
        queue.put_nowait(item)
    return True


async def next_matching(client: AsyncWSEClient, predicate: Callable[[WSEEvent], bool], timeout: float,
                        what: str, skipped: list[WSEEvent] | None = None) -> WSEEvent:
    """The next event for which `predicate` is true; others go to `skipped` (when given)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {what} within {timeout}s")
        try:
            event = await client.recv(timeout=left)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no {what} within {timeout}s") from None
        except WSEConnectionError:
            if not _drop_stale_sentinels(client):
                raise
            await asyncio.sleep(0.05)
            continue
        if predicate(event):
            return event
        if skipped is not None:
            skipped.append(event)


async def of_type(client: AsyncWSEClient, type: str, timeout: float = 5.0,
                  skipped: list[WSEEvent] | None = None) -> WSEEvent:
    """The next event whose `t` is `type`."""
    return await next_matching(client, lambda e: e.type == type, timeout, f"event {type!r}", skipped)


async def final_error(client: AsyncWSEClient, code: str) -> WSEEvent:
    """Waits for the `error` event with `code` after the client reached ERROR, then checks that the
    close was final: still ERROR 1.5 s later and no reconnect attempted. Returns the event."""
    err = await of_type(client, "error", 3)
    assert err.payload.get("code") == code
    await asyncio.sleep(1.5)
    assert client.state == ConnectionState.ERROR
    assert client.get_stats()["reconnect_count"] == 0
    return err


async def on_topic(client: AsyncWSEClient, topic: str, count: int, timeout: float = 8.0) -> list[WSEEvent]:
    """The next `count` stamped events of `topic`, in arrival order."""
    out: list[WSEEvent] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        left = deadline - time.monotonic()
        got = await next_matching(client, lambda e: e.topic == topic, max(left, 0.001),
                                  f"{count} events on {topic!r} (got {len(out)})")
        out.append(got)
    return out


async def quiet(client: AsyncWSEClient, predicate: Callable[[WSEEvent], bool], seconds: float) -> list[WSEEvent]:
    """Every matching event that arrives within `seconds` (used to prove there are no duplicates)."""
    out: list[WSEEvent] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await client.recv(timeout=left)
        except asyncio.TimeoutError:
            break
        if predicate(event):
            out.append(event)
    return out


async def on_topics(client: AsyncWSEClient, counts: dict[str, int], timeout: float = 8.0) -> dict[str, list[WSEEvent]]:
    """Stamped events of several topics at once: `{topic: [events]}` once each has its count."""
    out: dict[str, list[WSEEvent]] = {t: [] for t in counts}
    deadline = time.monotonic() + timeout
    while any(len(out[t]) < n for t, n in counts.items()):
        left = deadline - time.monotonic()
        got = await next_matching(client, lambda e: e.topic in out, max(left, 0.001),
                                  f"events {counts} (got { {t: len(v) for t, v in out.items()} })")
        out[got.topic].append(got)
    return out
