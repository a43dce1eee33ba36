"""Upstream wse-client 2.5.1: connecting, authenticating and the handshake (PROTOCOL.md §1-2)."""

from __future__ import annotations

import asyncio
import time

from wse_client import ConnectionState

from events import final_error
from support import async_wait_until, mint_token


async def _ready(client) -> None:
    await asyncio.wait_for(client.connect(), 15)
    await async_wait_until(lambda: client.is_fully_ready, 5, "server_ready + client_hello")
    await async_wait_until(lambda: bool(client._server_features), 5, "server_hello processed")


async def test_jwt_by_cookie_only(publisher, client_factory):
    token = publisher.token("cookie-user")
    client = client_factory(publisher.ws_url, token=None, extra_headers={"Cookie": f"access_token={token}"})
    await _ready(client)
    assert client.state == ConnectionState.CONNECTED
    assert client._connection.connection_id


async def test_jwt_by_bearer_header_only(publisher, client_factory):
    token = publisher.token("bearer-user")
    client = client_factory(publisher.ws_url, token=None, extra_headers={"Authorization": f"Bearer {token}"})
    await _ready(client)
    assert client.state == ConnectionState.CONNECTED


async def test_token_argument_sends_both_and_connects(publisher, client_factory):
    client = client_factory(publisher.ws_url, token=publisher.token("both-user"))
    await _ready(client)
    assert client.is_fully_ready


async def test_server_ready_and_server_hello_are_understood(publisher, client_factory):
    client = client_factory(publisher.ws_url, token=publisher.token("hello-user"))
    await _ready(client)
    # server_ready: connection id and the recovery feature.
    assert isinstance(client._connection.connection_id, str) and client._connection.connection_id
    assert client.recovery_enabled is True
    # server_hello: features, limits and ping interval read by the client.
    features = client._server_features
    assert features.get("recovery") is True
    assert features.get("encryption") is False
    assert isinstance(client._server_ping_interval_ms, int) and client._server_ping_interval_ms > 0
    assert isinstance(client._server_max_message_size, int) and client._server_max_message_size >= 64 * 1024
    assert isinstance(client._server_rate_limit, int) and client._server_rate_limit > 0


async def _expect_final_auth_error(url: str, client_factory, code: str, **kwargs) -> None:
    client = client_factory(url, **kwargs)
    started = time.monotonic()
    task = asyncio.ensure_future(client.connect())
    try:
        await async_wait_until(lambda: client.state == ConnectionState.ERROR, 8, "ERROR state after 4401")
        # 4401 is final: no reconnect attempt follows.
        await final_error(client, code)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert time.monotonic() - started < 15


async def test_missing_token_is_refused_with_4401_and_no_reconnect(publisher, client_factory):
    await _expect_final_auth_error(publisher.ws_url, client_factory, "AUTH_REQUIRED")


async def test_expired_token_is_refused_with_4401_and_no_reconnect(publisher, client_factory):
    expired = mint_token(publisher.secret, "late-user", ttl=-3600)
    await _expect_final_auth_error(publisher.ws_url, client_factory, "AUTH_FAILED", token=expired)


async def test_wrong_signature_is_refused(publisher, client_factory):
    forged = mint_token("x" * 48, "forger")
    await _expect_final_auth_error(publisher.ws_url, client_factory, "AUTH_FAILED", token=forged)
