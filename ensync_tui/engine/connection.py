"""One WebSocket connection: read frames, hand them to the session, send the
outbox, send PINGs, and drop the peer when it stops answering or reading.

A connection is dropped when it has not sent a valid ``CONN`` within
``conn_timeout`` seconds of connecting, when it has answered no ``PING`` for
two ping intervals, or when the socket has taken nothing for two ping
intervals. Dropping sends a close frame if the socket takes it within
:data:`CLOSE_TIMEOUT`, then aborts the socket either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.connection import Connection, broadcast
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ensync_tui.engine.broker import Broker
from ensync_tui.engine.config import EngineConfig
from ensync_tui.engine.outbox import Outbox, fail
from ensync_tui.engine.session import Session
from ensync_tui.protocol.frames import shown_verb
from ensync_tui.safetext import visible

log = logging.getLogger("ensync_tui.engine")

READ_HIGH_WATER = 10_000  # stop reading while this many frames wait to be sent
READ_LOW_WATER = 2_000
CLOSE_TIMEOUT = 2.0  # seconds a dropped peer has to take the close frame


class Link:
    """The tasks of one connection and why it ended."""

    def __init__(self, ws: ServerConnection, broker: Broker, cfg: EngineConfig, peer: str) -> None:
        self.ws = ws
        self.cfg = cfg
        self.outbox = Outbox(int(cfg.outbox_mib * (1 << 20)))
        self.session = Session(broker, self.outbox, peer)
        self.opened = getattr(ws, "opened_at", time.monotonic())
        self.dropped = ""  # why the engine dropped it, if it did
        self.on_authenticated: Callable[[], object] = lambda: None

    async def run(self) -> None:
        ws, session, outbox = self.ws, self.session, self.outbox
        log.debug("%s: connected", session.peer)
        sender = asyncio.create_task(self._send_loop())
        watchdog = asyncio.create_task(self._watch())
        max_frame = self.cfg.max_frame
        reason = "closed by client"
        authenticated = False
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    reply: Any = session.refuse("binary frames are not supported; send text frames")
                else:
                    size = len(frame) if frame.isascii() else len(frame.encode(errors="replace"))
                    if size > max_frame:
                        reply = session.refuse(
                            f"frame is {size} bytes, over the {max_frame}-byte limit"
                        )
                    else:
                        try:
                            reply = session.handle(frame)
                            if not authenticated and session.client is not None:
                                authenticated = True
                                self.on_authenticated()
                        except Exception:  # a bug must not cost the client its connection
                            log.exception("%s: cannot handle a frame", session.who)
                            verb = shown_verb(frame.split(";", 1)[0])
                            reply = fail(f"internal error while handling {verb}")
                if reply is not None:
                    outbox.push(reply)
                if outbox.over(READ_HIGH_WATER):
                    # the peer is not reading what it asked for: read no more until it does
                    await outbox.wait_below(READ_LOW_WATER)
                    if self.dropped:
                        break
        except ConnectionClosed as exc:
            reason = f"connection lost ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except Exception:
            log.exception("%s: connection failed", session.who)
            reason = "internal error"
        finally:
            session.close()
            watchdog.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            outbox.discard()
            if self.dropped:
                reason = self.dropped
            elif ws.close_reason:
                reason = visible(ws.close_reason)
            log.info("%s: disconnected (%s)", session.who, reason)

    async def _send_loop(self) -> None:
        ws, outbox = self.ws, self.outbox
        # a socket that takes nothing for this long belongs to a peer that stopped reading
        stall = 2 * self.cfg.ping_interval
        try:
            while True:
                frames = await outbox.get()
                async with asyncio.timeout(stall):
                    await send_frames(ws, frames)
        except ConnectionClosed:
            pass
        except TimeoutError:
            self._abort(f"dropped: took nothing for {stall:g} s")

    async def _watch(self) -> None:
        """The CONN deadline, and a PING every interval. A peer that has answered
        neither of the last two PINGs and nothing for two intervals is dropped."""
        session, cfg = self.session, self.cfg
        interval = cfg.ping_interval
        deadline = self.opened + cfg.conn_timeout
        next_ping = time.monotonic() + interval
        pinged = [-1.0, -1.0]  # when the last two PINGs went out
        while True:
            now = time.monotonic()
            if session.client is None and now >= deadline:
                await self.drop(1008, f"no CONN within {cfg.conn_timeout:g} s")
                return
            if now >= next_ping:
                self.outbox.push("PING")
                pinged = [pinged[1], now]
                next_ping += interval
            silent_until = session.last_pong + 2 * interval
            if pinged[0] > session.last_pong and now >= silent_until:
                await self.drop(1008, "no PONG to 2 PINGs", polite=False)
                return
            wake = next_ping
            if pinged[0] > session.last_pong:
                wake = min(wake, silent_until)
            if session.client is None:
                wake = min(wake, deadline)
            await asyncio.sleep(max(wake - time.monotonic(), 0.001))

    async def drop(self, code: int, reason: str, polite: bool = True) -> None:
        """Close the connection for ``reason``. Polite: a closing handshake if the
        peer takes part within :data:`CLOSE_TIMEOUT`. Else (a peer that answers
        nothing) the close frame is written and the socket closed at once."""
        log.info("%s: %s, dropping the connection", self.session.who, reason)
        self.dropped = f"dropped: {reason}"
        if polite:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code, reason), CLOSE_TIMEOUT)
            self._abort(self.dropped)
            return
        transport = self.ws.transport
        for _ in range(3):  # the sender writes what is ready (the last PING) if the socket takes it
            await asyncio.sleep(0)
        with contextlib.suppress(Exception):
            self.ws.protocol.send_close(code, reason)
            transport.write(b"".join(self.ws.protocol.data_to_send()))
        transport.close()  # sends what is buffered, then FIN
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)
        self.outbox.discard()

    def _abort(self, reason: str) -> None:
        if not self.dropped:
            log.info("%s: %s", self.session.who, reason)
            self.dropped = reason
        self.ws.transport.abort()
        self.outbox.discard()  # and with it the reader, if it waits for room


async def send_frames(ws: Connection, frames: list[str]) -> None:
    """Send text frames in order, with the connection's usual flow control: all
    but the last are written at once (websockets' ``broadcast``, which does not
    wait), the last with ``send``, which waits while the socket's buffer is full.
    On the engine's sockets (front.py) the writes of a loop tick leave together."""
    if not frames:
        return
    for frame in frames[:-1]:
        broadcast((ws,), frame)  # a closed connection is skipped: the send below raises
    await ws.send(frames[-1])
