"""Upstream wse-client 2.5.1 against a connection whose token expires while it is open.

Our server closes such a connection with an `error` AUTH_FAILED "token expired" and close 4401
(`jwt.closeOnExpiry`, on by default; WSE_JWT_LEEWAY=0 here so it happens within seconds). The
upstream client must take that as final, like a refused handshake: ERROR state, no reconnect
loop with a token that can only be refused again.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from wse_client import ConnectionState

from events import final_error
from support import OurServer, async_wait_until, mint_token, ours_available


@pytest.fixture(scope="module", params=["bun", "deno"])
def strict_server(request):
    reason = ours_available()
    if reason:
        pytest.skip(f"our server not available: {reason}")
    server = OurServer(runtime=request.param, jwt_leeway=0)
    yield server
    server.stop()


async def test_expiring_token_ends_the_connection_with_4401_and_no_reconnect(strict_server, client_factory):
    token = mint_token(strict_server.secret, "expiring-user", ttl=2)
    client = client_factory(strict_server.ws_url, token=token)
    started = time.monotonic()
    task = asyncio.ensure_future(client.connect())
    try:
        await async_wait_until(lambda: client.is_fully_ready, 10, "server_ready + client_hello")
        assert client.state == ConnectionState.CONNECTED
        await async_wait_until(lambda: client.state == ConnectionState.ERROR, 10, "ERROR state after the token expired")
        # Final: the client does not come back with its expired token.
        err = await final_error(client, "AUTH_FAILED")
        assert err.payload.get("message") == "token expired"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert time.monotonic() - started < 20


async def test_a_long_lived_token_is_not_affected(strict_server, client_factory):
    client = client_factory(strict_server.ws_url, token=mint_token(strict_server.secret, "long-user", ttl=3600))
    await asyncio.wait_for(client.connect(), 15)
    await async_wait_until(lambda: client.is_fully_ready, 5, "server_ready + client_hello")
    await asyncio.sleep(2.5)
    assert client.state == ConnectionState.CONNECTED
