"""The management API client: against the local engine (plain and TLS), and against
servers that answer badly; the account key never shows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ensync_tui.client.errors import EnSyncValidationError
from ensync_tui.client.management import ManagementClient, ManagementError, api_url_for
from ensync_tui.engine import EngineConfig, EngineServer, MessageSpec
from ensync_tui.engine.config import AccountSpec
from ensync_tui.engine.sandbox import make_identities
from ensync_tui.protocol.crypto import public_key_of
from tests.tls import self_signed

ACCOUNT = "client-tests-account-key-0001"


def _config(**kw) -> EngineConfig:
    ids = make_identities(["alice"])
    return EngineConfig(
        clients=[ids["alice"].spec()],
        messages=[MessageSpec("orders/created", {"id": "string"}), MessageSpec("a/b")],
        accounts=[AccountSpec("admin", ACCOUNT)],
        port=0,
        **kw,
    )


@pytest.fixture
async def engine() -> AsyncIterator[EngineServer]:
    async with EngineServer(_config()) as server:
        yield server


def test_api_url_for_engine_urls() -> None:
    assert api_url_for("ws://127.0.0.1:8082") == "http://127.0.0.1:8082/api/v1/ensync"
    assert api_url_for("wss://h:1/message") == "https://h:1/api/v1/ensync"
    assert api_url_for("https://h/api/v1/ensync/") == "https://h/api/v1/ensync"
    with pytest.raises(EnSyncValidationError):
        api_url_for("ftp://h")
    with pytest.raises(EnSyncValidationError):
        ManagementClient("ws://h:1", "")


async def test_names_keys_and_changes(engine: EngineServer) -> None:
    api = ManagementClient(engine.url, ACCOUNT)
    assert ACCOUNT not in repr(api)
    assert await asyncio.to_thread(api.ping)
    events = await asyncio.to_thread(api.events)
    assert [(e.name, e.schema) for e in events] == [
        ("orders/created", {"id": "string"}),
        ("a/b", {}),
    ]
    made = await asyncio.to_thread(api.create_event, "x/y", {"n": "long"})
    assert (await asyncio.to_thread(api.event, "x/y")) == made
    changed = await asyncio.to_thread(api.update_event, made.id, None, {"n": "double"})
    assert changed.name == "x/y" and changed.schema == {"n": "double"}
    assert [e.name for e in await asyncio.to_thread(api.events, "x/")] == ["x/y"]
    key = await asyncio.to_thread(api.create_key, "svc", "SERVICE", ["x/*"], ["*"])
    assert key.secret_key and public_key_of(key.secret_key) == key.key.public_key
    assert key.secret_key not in repr(key) and key.key.access_key not in repr(key)
    keys = {k.name: k for k in await asyncio.to_thread(api.keys)}
    assert keys["svc"].send == ("x/*",) and keys["admin"].type == "ACCOUNT"
    changed_key = await asyncio.to_thread(api.set_permissions, key.key.access_key, ["*"], [])
    assert changed_key.send == ("*",) and changed_key.receive == ()
    await asyncio.to_thread(api.delete_key, key.key.id)
    assert "svc" not in {k.name for k in await asyncio.to_thread(api.keys)}


async def test_every_page_is_read(engine: EngineServer) -> None:
    api = ManagementClient(engine.api_url, ACCOUNT)
    for i in range(230):
        assert engine.registry is not None
        engine.registry.create_event(f"many/n{i:03d}", None)
    names = [e.name for e in await asyncio.to_thread(api.events, "many/")]
    assert names == [f"many/n{i:03d}" for i in range(230)]


async def test_refusals_carry_the_status_and_the_reason(engine: EngineServer) -> None:
    api = ManagementClient(engine.url, ACCOUNT)
    with pytest.raises(ManagementError) as refused:
        await asyncio.to_thread(api.create_event, "bad name")
    assert refused.value.status == 400 and "no spaces" in refused.value.message
    with pytest.raises(ManagementError) as missing:
        await asyncio.to_thread(api.event, "no/such")
    assert missing.value.status == 404
    wrong = ManagementClient(engine.url, "not-the-key")
    with pytest.raises(ManagementError) as denied:
        await asyncio.to_thread(wrong.events)
    assert denied.value.status == 401 and "not-the-key" not in str(denied.value)


async def test_tls_is_verified_like_the_websocket_client(tmp_path) -> None:
    cert, key = self_signed(tmp_path)
    async with EngineServer(_config(tls_cert=cert, tls_key=key)) as server:
        trusted = ManagementClient(server.url, ACCOUNT, ca_file=cert)
        assert trusted.base_url.startswith("https://")
        assert len(await asyncio.to_thread(trusted.events)) == 2
        untrusted = ManagementClient(server.url, ACCOUNT)
        with pytest.raises(ManagementError) as refused:
            await asyncio.to_thread(untrusted.events)
        assert "TLS failed" in str(refused.value) and "CERTIFICATE_VERIFY_FAILED" in str(
            refused.value
        )
        insecure = ManagementClient(server.url, ACCOUNT, insecure=True)
        assert len(await asyncio.to_thread(insecure.events)) == 2


@contextlib.asynccontextmanager
async def _answering(raw: bytes) -> AsyncIterator[str]:
    """A server that answers every request with ``raw``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(raw)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


def _http(status: str, body: bytes, kind: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (_http("200 OK", b"not json"), "not JSON"),
        (_http("200 OK", b'{"results": 5}'), "no results list"),
        (_http("200 OK", b'{"results": [{"id": 1, "name": "x"}]}'), "id is not text"),
        (_http("200 OK", b'{"results": [{"id": "1", "name": "x", "payload": "x"}]}'), "payload"),
        (_http("500 Oops", b'{"message": "\\u001b]0;owned\\u0007 broke"}'), "500"),
        (_http("502 Bad", b"<html>gateway</html>", "text/html"), "502 <html>gateway</html>"),
        (b"garbage\r\n\r\n", "cannot reach"),
        (b"", "cannot reach"),
    ],
)
async def test_bad_answers_are_errors_not_crashes(raw: bytes, said: str) -> None:
    async with _answering(raw) as url:
        api = ManagementClient(url, ACCOUNT, timeout=5)
        with pytest.raises(ManagementError) as failed:
            await asyncio.to_thread(api.events)
        assert said in str(failed.value)
        assert ACCOUNT not in str(failed.value)
