"""A tiny scripted EnSync server for client tests: answers by rules, records what it got."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import Server, ServerConnection, serve

from ensync_tui.client import crypto
from ensync_tui.protocol import replies

Rule = Callable[[str], "list[str] | Awaitable[list[str]] | None"]


class ScriptedServer:
    """Answers CONN, PUB (with idem/block) and other verbs with +PASS unless a rule says otherwise.

    ``rules[VERB]`` may return the frames to send back (a list), or None for the
    default answer; it may be async (to answer late).
    """

    def __init__(self, public_key: str | None = None) -> None:
        self.public_key = public_key or crypto.generate_keypair()[0]
        self.rules: dict[str, Rule] = {}
        self.received: list[str] = []
        self.paths: list[str] = []
        self.connections: list[ServerConnection] = []
        self.conn_count = 0
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> ScriptedServer:
        self._server = await serve(self._handle, "127.0.0.1", port, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]  # type: ignore[index]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            try:  # a rule still waiting must not hang the test run
                await asyncio.wait_for(self._server.wait_closed(), 3)
            except TimeoutError:
                for ws in list(self.connections):
                    ws.transport.abort()
            self._server = None

    async def __aenter__(self) -> ScriptedServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def push(self, frame: str) -> None:
        for ws in list(self.connections):
            await ws.send(frame)

    async def drop_all(self) -> None:
        for ws in list(self.connections):
            ws.transport.abort()

    def verbs(self) -> list[str]:
        return [frame.split(";", 1)[0] for frame in self.received]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    def default_answer(self, frame: str) -> list[str]:
        verb = frame.split(";", 1)[0]
        if verb == "CONN":
            return [f"+PASS:{{clientId=client-1,clientHash={self.public_key}}}"]
        if verb == "PUB":
            n = next(self._ids)
            return [f"+PASS:{{idem=m{n},block={n}}}"]
        if verb == "PONG":
            return []
        if verb == "REPLAY":
            return ["-FAIL:not found"]
        return ["+PASS:ok"]

    async def _handle(self, ws: ServerConnection) -> None:
        self.conn_count += 1
        self.paths.append(ws.request.path if ws.request else "")
        self.connections.append(ws)
        try:
            async for data in ws:
                frame = data if isinstance(data, str) else data.decode()
                self.received.append(frame)
                verb = frame.split(";", 1)[0]
                rule = self.rules.get(verb)
                answer = rule(frame) if rule else None
                if asyncio.iscoroutine(answer):
                    answer = await answer
                if answer is None:
                    answer = self.default_answer(frame)
                for reply in answer:  # type: ignore[union-attr]
                    await ws.send(reply)
        except Exception:
            pass
        finally:
            self.connections.remove(ws)


def record_frame(
    name: str, idem: str, payload: str, block: int = 1, sender: str = "", prefix: str = "+RECORD:"
) -> str:
    record = replies.Record(
        name, idem, block, 1_700_000_000_000, payload, {"persist": True}, sender
    )
    return prefix + record.to_json()
