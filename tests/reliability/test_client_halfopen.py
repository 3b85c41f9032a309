"""A half-open link: a loopback proxy that stops forwarding, and later forwards again.

Nothing closes: bytes just stop arriving, as when a NAT or a firewall forgets
the connection. The client must notice through its keepalive pings within two
ping intervals, then reconnect (and resubscribe) once the path works again.
"""

from __future__ import annotations

import asyncio
import time

from ensync_tui.client import EnSyncEngine, crypto
from tests.client.scripted import ScriptedServer, record_frame

PING_INTERVAL = 1.0  # seconds


class StallingProxy:
    """Forwards TCP between 127.0.0.1 ports until told to stall; then drops every byte."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.forwarding = True
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.append(up_writer)
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if self.forwarding:  # stalled: the bytes vanish, nothing is closed
                writer.write(data)
                await writer.drain()


async def test_a_half_open_link_is_noticed_and_healed():
    keys = crypto.generate_keypair()
    async with ScriptedServer(keys[0]) as server:
        proxy = await StallingProxy(server.port).start()
        options = {
            "ping_interval": PING_INTERVAL,
            "reconnect_interval": 100,
            "max_reconnect_delay": 0.5,
            "max_reconnect_attempts": 0,
            "open_timeout": 1,
            "request_timeout": 5,
        }
        engine = EnSyncEngine(f"ws://127.0.0.1:{proxy.port}", options)
        client = await engine.create_client("key-1", {"appSecretKey": keys[1]})
        changes: list[tuple[float, str]] = []

        async def watch() -> None:
            async for state in client.state_changes():
                changes.append((time.monotonic(), state.status))

        watcher = asyncio.create_task(watch())
        got: list[str] = []
        try:
            sub = client.subscribe("a/b", auto_ack=False)
            sub.handler(lambda m: got.append(m["idem"]))
            await sub
            await asyncio.sleep(PING_INTERVAL * 1.5)  # a ping or two go through first
            stalled_at = time.monotonic()
            proxy.forwarding = False
            async with asyncio.timeout(PING_INTERVAL * 6):
                while not any(s == "reconnecting" for _, s in changes):
                    await asyncio.sleep(0.01)
            noticed = next(t for t, s in changes if s == "reconnecting") - stalled_at
            await asyncio.sleep(PING_INTERVAL * 2)  # attempts fail while nothing gets through
            attempts_stalled = proxy.accepted - 1
            resumed_at = time.monotonic()
            proxy.forwarding = True
            async with asyncio.timeout(10):
                while not any(t > resumed_at and s == "connected" for t, s in changes):
                    await asyncio.sleep(0.01)
            healed = next(t for t, s in changes if t > resumed_at and s == "connected") - resumed_at
            await server.wait_for(lambda: server.verbs().count("SUB") == 2)
            await server.push(record_frame("a/b", "after", crypto.encrypt_payload({}, [keys[0]])))
            await server.wait_for(lambda: "after" in got)
            assert await client.ack("a/b", "after", 1) == "+PASS:ok"
        finally:
            watcher.cancel()
            await client.close()
            await proxy.stop()
    print(
        f"\nhalf-open link (ping interval {PING_INTERVAL:g} s): noticed in {noticed:.2f} s,"
        f" {attempts_stalled} reconnect attempts while stalled, reconnected and"
        f" resubscribed {healed:.2f} s after forwarding resumed"
    )
    assert noticed <= 2 * PING_INTERVAL
