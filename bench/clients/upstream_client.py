"""Receive-rate probe for the upstream Python client (PyPI ``wse-client``).

Connects with a token, subscribes to one topic, consumes events with ``async for`` and
reports the time it took to consume the last 80 % (the first 20 % warm it up), as JSON lines on stdout (``ready``, ``done``),
mirroring bench/clients/ours-client.ts. Environment: BENCH_URL, BENCH_TOKEN, BENCH_TOPIC,
BENCH_EXPECT, BENCH_TIMEOUT_MS.
"""

import asyncio
import json
import os
import sys
import time

from wse_client import connect


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def main():
    url = os.environ["BENCH_URL"]
    topic = os.environ.get("BENCH_TOPIC", "client")
    expect = int(os.environ.get("BENCH_EXPECT", "10000"))
    async with connect(url, token=os.environ.get("BENCH_TOKEN"), queue_size=1_000_000) as client:
        await client.subscribe([topic])
        await asyncio.sleep(0.2)
        emit({"ev": "ready"})
        count = lost = duplicates = 0
        last = -1
        first_at = last_at = 0.0
        warm = expect // 5
        async for event in client:
            if event.topic != topic:
                continue
            offset = event.offset if event.offset is not None else -1
            if last >= 0 and offset <= last:
                duplicates += 1
            else:
                if last >= 0 and offset > last + 1:
                    lost += offset - last - 1
                last = offset
            count += 1
            if count == warm:
                first_at = time.time() * 1000.0
            if count >= expect:
                last_at = time.time() * 1000.0
                break
        emit({"ev": "done", "count": count, "measured": count - warm, "lost": lost, "duplicates": duplicates,
              "firstAt": first_at, "lastAt": last_at})


def run():
    timeout = int(os.environ.get("BENCH_TIMEOUT_MS", "30000")) / 1000
    try:
        asyncio.run(asyncio.wait_for(main(), timeout))
    except asyncio.TimeoutError:
        emit({"ev": "fatal", "error": f"timed out after {timeout} s"})
        sys.exit(3)


if __name__ == "__main__":
    run()
