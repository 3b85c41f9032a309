"""One WebSocket connection of a session: its request bookkeeping and batched writes."""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from ensync_tui.client.protocol import ClientProtocol

__all__ = ["Link", "LinkClosed"]

log = logging.getLogger("ensync_tui.client")


class LinkClosed(Exception):
    """The link is no longer open for writing."""


class Link:
    """One WebSocket connection and its request bookkeeping.

    Frames are queued in the websockets protocol object and written to the
    socket once per loop tick: one system call for many frames.
    """

    __slots__ = (
        "flush_pending",
        "proto",
        "reader",
        "reason",
        "sweep_at",
        "sweeper",
        "ws",
        "ws_proto",
    )

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ws_proto = ws.protocol
        self.proto = ClientProtocol()
        self.reader: asyncio.Task[None] | None = None
        self.reason = ""
        self.flush_pending = False
        self.sweeper: asyncio.TimerHandle | None = None  # expires overdue requests
        self.sweep_at = 0.0

    def write(self, text: str) -> None:
        """Queue one text frame; raises LinkClosed when the link is not open."""
        ws_proto = self.ws_proto
        if ws_proto.state is not State.OPEN:
            raise LinkClosed(ws_proto.state.name.lower())
        ws_proto.send_text(text.encode())
        if not self.flush_pending:
            self.flush_pending = True
            self.ws.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_pending = False
        if self.ws_proto.state is not State.OPEN or self.ws.transport.is_closing():
            return  # websockets writes what is left along with its close frame
        chunks = self.ws_proto.data_to_send()
        if chunks:
            try:
                self.ws.transport.write(b"".join(chunks))
            except Exception as exc:  # the reader sees the closed socket next
                log.debug("write failed: %s", exc)

    def backlog(self) -> int:
        return self.ws.transport.get_write_buffer_size()
