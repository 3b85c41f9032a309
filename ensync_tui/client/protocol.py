"""The client side of the protocol without I/O: pending requests and frame dispatch.

The engine answers every request exactly once, in order, so replies are
matched to requests first in, first out. A request whose caller stopped
waiting (timed out) keeps its place, marked abandoned, so that its late
answer is consumed by it and not handed to the next caller. ``+RECORD`` and
``PING`` never consume a pending request.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ensync_tui.client.errors import EnSyncError, error_for_fail
from ensync_tui.protocol import frames, replies

__all__ = [
    "ClientProtocol",
    "Delivery",
    "Event",
    "Malformed",
    "Orphan",
    "PingReceived",
    "Reply",
    "Slot",
    "outcome",
]


class Slot:
    """One request waiting for its answer. ``waiter`` is the caller's, opaque here."""

    __slots__ = ("abandoned", "deadline", "timeout", "verb", "waiter")

    def __init__(self, verb: str, waiter: Any = None) -> None:
        self.verb = verb
        self.waiter = waiter
        self.abandoned = False
        self.deadline = 0.0  # when the caller stops waiting (the session's clock)
        self.timeout = 0.0

    def __repr__(self) -> str:
        state = " abandoned" if self.abandoned else ""
        return f"<Slot {self.verb}{state}>"


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the oldest pending request."""

    slot: Slot
    frame: replies.Pass | replies.Fail | replies.ReplayReply


@dataclass(frozen=True, slots=True)
class Delivery:
    record: replies.Record


@dataclass(frozen=True, slots=True)
class PingReceived:
    pass


@dataclass(frozen=True, slots=True)
class Orphan:
    """An answer that arrived while no request was pending."""

    frame: replies.Pass | replies.Fail | replies.ReplayReply


@dataclass(frozen=True, slots=True)
class Malformed:
    text: str
    error: str


Event = Reply | Delivery | PingReceived | Orphan | Malformed

_PING = PingReceived()


class ClientProtocol:
    """FIFO bookkeeping of requests and the meaning of each incoming frame."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: deque[Slot] = deque()

    def request(self, verb: str, waiter: Any = None) -> Slot:
        """Note a request about to be sent; its answer will come back on this slot."""
        slot = Slot(verb, waiter)
        self.pending.append(slot)
        return slot

    def cancel_last(self, slot: Slot) -> None:
        """Forget a request that could not be sent (it was the last one noted)."""
        if self.pending and self.pending[-1] is slot:
            self.pending.pop()
        else:  # something was noted after it: keep the order, ignore its answer
            slot.abandoned = True

    def receive(self, data: str | bytes) -> Event:
        """What one incoming frame means. Never raises: whatever the engine sends,
        a frame that cannot be read is a Malformed event, and the next one is read."""
        try:
            return self._receive(data)
        except Exception as exc:  # RecursionError, MemoryError, anything not foreseen
            return Malformed(_head(data), f"unreadable frame: {type(exc).__name__}")

    def _receive(self, data: str | bytes) -> Event:
        if isinstance(data, bytes | bytearray | memoryview):
            try:
                text = bytes(data).decode()
            except UnicodeDecodeError:
                return Malformed(repr(bytes(data[:40])), "binary frame is not UTF-8")
        elif isinstance(data, str):
            text = data
        else:
            return Malformed(_head(data), "a frame must be text or bytes")
        try:
            frame = replies.parse_server_frame(text)
        except Exception as exc:
            error = str(exc) if isinstance(exc, frames.WireError) else type(exc).__name__
            if text.startswith("+REPLAY:") and self.pending:
                # still the answer to a request: it takes that request's place,
                # or every later answer would go to the request before its own
                return Reply(self.pending.popleft(), replies.Fail(f"malformed answer: {error}"))
            return Malformed(text[:200], error)
        if isinstance(frame, replies.RecordFrame):
            return Delivery(frame.record)
        if isinstance(frame, replies.Ping):
            return _PING
        if not self.pending:
            return Orphan(frame)
        return Reply(self.pending.popleft(), frame)

    def drop_all(self) -> list[Slot]:
        """The connection is gone: every pending request is lost; returns them."""
        slots = list(self.pending)
        self.pending.clear()
        return slots


def _head(data: object) -> str:
    """The start of a frame, for a report."""
    if isinstance(data, str):
        return data[:200]
    if isinstance(data, bytes | bytearray | memoryview):
        return repr(bytes(data[:40]))
    return type(data).__name__


def outcome(verb: str, frame: replies.Pass | replies.Fail | replies.ReplayReply) -> Any:
    """The result of a request given its answer: the frame, or an EnSyncError."""
    if isinstance(frame, replies.Fail):
        return error_for_fail(verb, frame.reason)
    if verb == "REPLAY":
        if isinstance(frame, replies.ReplayReply):
            return frame
        return error_for_fail(verb, f"unexpected answer to REPLAY: +PASS:{frame.body[:80]}")
    if isinstance(frame, replies.ReplayReply):
        return EnSyncError(f"unexpected +REPLAY answer to {verb}", "EnSyncProtocolError")
    return frame
