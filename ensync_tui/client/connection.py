"""The client side of the EnSync protocol as a state machine: no sockets, no clock.

The transport tells a :class:`Connection` what happens (a socket opened or
lost, a frame arrived, the time is now) and acts on what it answers: events,
and frames to send. Everything that decides lives here, so it is tested by
feeding strings and a fake ``now``:

- requests are matched to answers first in, first out (the engine answers each
  exactly once, in order); one whose caller stopped waiting keeps its place,
  abandoned, so that its late answer is not handed to the next caller;
- ``deadlines(now)`` expires requests and runs the keepalive: a ping every
  ``ping_interval``, and a link whose pong does not come within half an interval
  is dead (with the close that follows, a silent link is dropped within two
  intervals);
- ``PING`` is answered ``PONG``; ``+RECORD`` and ``PING`` never take a pending
  request's answer;
- after ``CONN`` the subscriptions wanted are sent again (``SUB``, and ``PAUSE``
  for the paused ones), and the connection is ready once they are answered;
- the reconnect schedule: exponential backoff with jitter (random injected).
"""

from __future__ import annotations

import random as _random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ensync_tui.client.errors import (
    EnSyncAuthError,
    EnSyncConnectionError,
    EnSyncError,
    EnSyncTimeoutError,
    error_for_fail,
)
from ensync_tui.client.events import (
    Answer,
    Authenticated,
    Delivery,
    Event,
    LinkDead,
    Malformed,
    Orphan,
    PingDue,
    Ready,
    ResubscribeFailed,
    Send,
    SetupFailed,
    Slot,
    Wanted,
)
from ensync_tui.client.options import Options
from ensync_tui.crashlog import redact
from ensync_tui.protocol import frames, replies

__all__ = [
    "Backoff",
    "Connection",
    "ConnectionState",
    "ConnectionStatus",
    "connect_failure",
    "outcome",
]

MAX_REASON = 1000  # characters of a -FAIL reason kept (an engine may send megabytes)


class ConnectionStatus(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """Where the connection is; ``attempt`` and ``delay`` while reconnecting."""

    status: ConnectionStatus
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ConnectionStatus(self.status))


class Backoff:
    """Exponential backoff with jitter: attempt n waits about base * 2**(n-1), at most cap.

    ``attempts`` 0 retries forever; ``random`` returns a float in [0, 1).
    """

    def __init__(
        self,
        base: float,
        cap: float,
        attempts: int = 0,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.base = base
        self.cap = max(cap, base)
        self.attempts = attempts
        self._random = random

    def delay(self, attempt: int) -> float:
        full = min(self.cap, self.base * (2 ** min(attempt - 1, 30)))
        return full * (0.5 + self._random() / 2)

    def exhausted(self, attempt: int) -> bool:
        return bool(self.attempts) and attempt > self.attempts


_READY = Ready()
_PING_DUE = PingDue()
_PONG_SEND = Send(frames.Pong().encode())
_INF = float("inf")


class _Setup:
    """The waiter of a request the connection makes itself (CONN, resubscribe)."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name


_CONN = _Setup()


def _usable_id(client_id: str) -> bool:
    """A clientId goes into every request: printable ASCII without the field separator."""
    return (
        bool(client_id) and client_id.isascii() and client_id.isprintable() and ";" not in client_id
    )


class Connection:
    """One client's protocol state across its links (one socket at a time)."""

    def __init__(
        self,
        access_key: str,
        *,
        request_timeout: float = 30.0,
        ping_interval: float | None = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._access_key = access_key
        self.request_timeout = request_timeout
        self.ping_interval = ping_interval or None
        self.backoff = backoff or Backoff(5.0, 30.0, 5)
        self.pending: deque[Slot] = deque()
        self.subscriptions: dict[str, Any] = {}  # name -> a Wanted (or alike)
        self.client_id = ""
        self.client_hash = ""
        self.state = ConnectionState(ConnectionStatus.CONNECTING)
        self.online = False  # a link is up and ready for requests
        self.wake_at = _INF  # when deadlines() has something to do
        self._sweep_at = _INF
        self._setup_left = 0  # resubscribe answers still to come
        self._setup_by = 0.0  # when they are late: a timeout after the CONN's own deadline
        self._ping_at = _INF  # next keepalive ping
        self._ping_sent = 0.0
        self._pong_by = _INF  # the ping sent must be answered by then

    @classmethod
    def from_options(cls, access_key: str, options: Options) -> Connection:
        backoff = Backoff(
            options.reconnect_interval, options.max_reconnect_delay, options.max_reconnect_attempts
        )
        return cls(
            access_key,
            request_timeout=options.request_timeout,
            ping_interval=options.ping_interval,
            backoff=backoff,
        )

    # ------------------------------------------------------------ the link

    def connection_made(self, now: float) -> list[Event]:
        """A socket is open: log in. Returns the CONN frame to send."""
        self.online = False
        self.pending.clear()
        self._sweep_at = _INF
        self._pong_by = _INF
        self._setup_left = 0
        self._ping_at = now + self.ping_interval if self.ping_interval else _INF
        self.wake_at = self._ping_at
        text = frames.Conn(self._access_key).encode()
        deadline = now + self.request_timeout
        self._setup_by = deadline + self.request_timeout
        self._push(Slot("CONN", _CONN, deadline, self.request_timeout))
        return [Send(text)]

    def connection_lost(self, reason: str) -> list[Event]:
        """The socket is gone: every pending request fails with ``reason``."""
        self.online = False
        self._ping_at = self._pong_by = self._sweep_at = self.wake_at = _INF
        slots = list(self.pending)
        self.pending.clear()
        events: list[Event] = []
        for slot in slots:
            if isinstance(slot.waiter, _Setup) or slot.abandoned:
                continue
            lost = f"connection lost before the {slot.verb} answer: {reason}"
            events.append(Answer(slot, EnSyncConnectionError(lost)))
        return events

    # ------------------------------------------------------------ states

    def connecting(self, attempt: int = 0) -> ConnectionState:
        self.state = ConnectionState(ConnectionStatus.CONNECTING, attempt)
        return self.state

    def retry(self, attempt: int, reason: str) -> ConnectionState:
        """Attempt ``attempt`` (from 1) after a failure: reconnecting after a delay, or closed."""
        if self.backoff.exhausted(attempt):
            return self.closed(f"gave up after {self.backoff.attempts} attempts: {reason}")
        delay = self.backoff.delay(attempt)
        self.state = ConnectionState(ConnectionStatus.RECONNECTING, attempt, delay, reason)
        return self.state

    def closed(self, reason: str) -> ConnectionState:
        self.online = False
        self.state = ConnectionState(ConnectionStatus.CLOSED, reason=reason)
        return self.state

    # ------------------------------------------------------------ requests

    def request(
        self, req: frames.Request, waiter: Any, now: float, timeout: float | None = None
    ) -> tuple[Slot, str]:
        """Note a request about to be sent; returns its slot and its frame (WireError if
        it cannot be encoded). Send the frame at once, in the order requests are noted."""
        text = req.encode()
        return self.request_text(req.VERB, text, waiter, now, timeout), text

    def request_text(
        self, verb: str, text: str, waiter: Any, now: float, timeout: float | None = None
    ) -> Slot:
        """Like request, for a frame already encoded by protocol.frames; ``waiter`` None:
        nobody waits for the answer (no deadline), a -FAIL is only reported."""
        if waiter is None:
            slot = Slot(verb, None, _INF, 0.0)
        else:
            seconds = self.request_timeout if timeout is None else timeout
            slot = Slot(verb, waiter, now + seconds, seconds)
        self._push(slot)
        return slot

    def _push(self, slot: Slot) -> None:
        self.pending.append(slot)
        if slot.deadline < self._sweep_at:
            self._sweep_at = slot.deadline
            if slot.deadline < self.wake_at:
                self.wake_at = slot.deadline

    def cancel(self, slot: Slot) -> None:
        """Forget a request that was not sent after all."""
        if self.pending and self.pending[-1] is slot:
            self.pending.pop()
        else:  # something was noted after it: keep the order, ignore its answer
            slot.abandoned = True

    def want(self, name: str, entry: Any = None) -> Any:
        """A subscription to send again after each reconnect (until forget); ``entry``
        (a Wanted by default) says whether it is paused and why, and learns ``confirmed``."""
        if entry is None:
            entry = self.subscriptions.get(name) or Wanted()
        self.subscriptions[name] = entry
        return entry

    def forget(self, name: str) -> None:
        self.subscriptions.pop(name, None)

    # ------------------------------------------------------------ incoming

    def receive(self, data: str | bytes) -> list[Event]:
        """What one frame from the engine means. Never raises: a frame that cannot
        be read is a Malformed event, and the next one is read."""
        try:
            return self._receive(data)
        except Exception as exc:  # RecursionError, MemoryError, anything not foreseen
            return [Malformed(_head(data), f"unreadable frame: {type(exc).__name__}")]

    def _receive(self, data: str | bytes) -> list[Event]:
        if isinstance(data, str):
            text = data
        elif isinstance(data, bytes | bytearray | memoryview):
            try:
                text = bytes(data).decode()
            except UnicodeDecodeError:
                return [Malformed(repr(bytes(data[:40])), "binary frame is not UTF-8")]
        else:
            return [Malformed(_head(data), "a frame must be text or bytes")]
        try:
            frame = replies.parse_server_frame(text)
        except Exception as exc:
            error = str(exc) if isinstance(exc, frames.WireError) else type(exc).__name__
            if text.startswith("+REPLAY:") and self.pending:
                # still the answer to a request: it takes that request's place,
                # or every later answer would go to the request before its own
                failed = replies.Fail(f"malformed answer: {error}")
                return self._answer(self.pending.popleft(), failed)
            return [Malformed(text[:200], error)]
        if type(frame) is replies.RecordFrame:
            return [Delivery(frame.record)]
        if type(frame) is replies.Ping:
            return [_PONG_SEND]
        pending = self.pending
        if not pending:
            return [Orphan(frame)]  # type: ignore[arg-type]
        slot = pending.popleft()
        if not pending:  # nothing left to expire
            self._sweep_at = _INF
            self.wake_at = min(self._ping_at, self._pong_by)
        return self._answer(slot, frame)  # type: ignore[arg-type]

    def _answer(
        self, slot: Slot, frame: replies.Pass | replies.Fail | replies.ReplayReply
    ) -> list[Event]:
        if type(frame) is replies.Fail:  # an engine may quote the access key: never show it
            reason = frame.reason
            if len(reason) > MAX_REASON:
                reason = reason[: MAX_REASON - 1] + "…"
            frame = replies.Fail(redact(reason, (self._access_key,)))
        if slot.abandoned:
            return []
        waiter = slot.waiter
        if isinstance(waiter, _Setup):
            return self._setup_answer(slot, waiter, outcome(slot.verb, frame))
        return [Answer(slot, outcome(slot.verb, frame))]

    def _setup_answer(self, slot: Slot, setup: _Setup, result: Any) -> list[Event]:
        if setup is _CONN:
            return self._logged_in(result)
        events: list[Event] = []
        entry = self.subscriptions.get(setup.name)
        if isinstance(result, EnSyncError):
            events.append(ResubscribeFailed(setup.name, result))
        elif slot.verb == "SUB" and entry is not None:
            entry.confirmed = True
        self._setup_left -= 1
        if self._setup_left == 0:
            events.append(self._ready())
        return events

    def _logged_in(self, result: Any) -> list[Event]:
        if isinstance(result, EnSyncError):
            return [SetupFailed(result)]
        fields = result.fields()
        client_id = fields.get("clientId", "")
        if not _usable_id(client_id):
            shown = result.body[:80]
            error = EnSyncAuthError(f"the engine's CONN answer has no usable clientId: {shown}")
            return [SetupFailed(error)]
        self.client_id = client_id
        self.client_hash = fields.get("clientHash", "")
        events: list[Event] = [Authenticated(client_id, self.client_hash)]
        for name, entry in self.subscriptions.items():
            plan: list[frames.Request] = [frames.Sub(client_id, name)]
            if entry.paused:
                plan.append(frames.Pause(client_id, name, entry.pause_reason))
            for req in plan:
                try:
                    text = req.encode()
                    text.encode()  # the transport sends it as UTF-8
                except (frames.WireError, UnicodeEncodeError) as exc:
                    events.append(ResubscribeFailed(name, EnSyncError(f"cannot resend: {exc}")))
                    break
                self._push(Slot(req.VERB, _Setup(name), self._setup_by, self.request_timeout))
                self._setup_left += 1
                events.append(Send(text))
        if self._setup_left == 0:
            events.append(self._ready())
        return events

    def _ready(self) -> Ready:
        self.online = True
        self.state = ConnectionState(ConnectionStatus.CONNECTED)
        return _READY

    # ------------------------------------------------------------ time

    def ping_sent(self, now: float) -> None:
        """The keepalive ping asked for by PingDue is on its way."""
        if self.ping_interval is None:
            return
        self._ping_sent = now
        self._pong_by = now + self.ping_interval / 2
        self._ping_at = _INF
        self.wake_at = min(self.wake_at, self._pong_by)

    def pong_received(self) -> None:
        """Its pong came back: the next ping is due an interval after the last one."""
        if self.ping_interval is None or self._pong_by == _INF:
            return  # a pong for a link already given up
        self._pong_by = _INF
        self._ping_at = self._ping_sent + self.ping_interval
        self.wake_at = min(self._sweep_at, self._ping_at)

    def deadlines(self, now: float) -> list[Event]:
        """What is due at ``now``: requests past their deadline fail (their slots stay,
        abandoned); a keepalive ping; a link whose pong is late is dead."""
        events: list[Event] = []
        if now >= self._pong_by:
            self._pong_by = _INF
            interval = self.ping_interval or 0.0
            events.append(LinkDead(f"no answer to a keepalive ping within {interval / 2:g} s"))
        if now >= self._ping_at:
            self._ping_at = _INF
            events.append(_PING_DUE)
        if now >= self._sweep_at:
            events.extend(self._expire(now))
        self.wake_at = min(self._sweep_at, self._ping_at, self._pong_by)
        return events

    def _expire(self, now: float) -> list[Event]:
        events: list[Event] = []
        upcoming = _INF
        for slot in self.pending:
            if slot.abandoned or slot.deadline == _INF:
                continue
            if slot.deadline <= now:
                slot.abandoned = True  # its late answer still takes this slot
                error = EnSyncTimeoutError(f"no answer to {slot.verb} within {slot.timeout:g} s")
                if slot.waiter is _CONN:
                    events.append(SetupFailed(error))
                elif isinstance(slot.waiter, _Setup):
                    events.extend(self._setup_answer(slot, slot.waiter, error))
                else:
                    events.append(Answer(slot, error))
            elif slot.deadline < upcoming:
                upcoming = slot.deadline
        if upcoming != _INF:  # timeouts may run this late: one sweep serves many
            upcoming = max(upcoming, now + min(1.0, self.request_timeout / 20))
        self._sweep_at = upcoming
        return events


def outcome(verb: str, frame: replies.Pass | replies.Fail | replies.ReplayReply) -> Any:
    """The result of a request given its answer: the frame, or an EnSyncError."""
    if type(frame) is replies.Fail:
        return error_for_fail(verb, frame.reason)
    if verb == "REPLAY":
        if type(frame) is replies.ReplayReply:
            return frame
        body = frame.body[:80]  # type: ignore[union-attr]
        return error_for_fail(verb, f"unexpected answer to REPLAY: +PASS:{body}")
    if type(frame) is replies.ReplayReply:
        return EnSyncError(f"unexpected +REPLAY answer to {verb}", "EnSyncProtocolError")
    return frame


def connect_failure(exc: BaseException, url: str) -> str:
    """Why connecting failed, also when the exception has no text (a reset connection)."""
    text = str(exc)
    if not text and isinstance(exc, ConnectionError | EOFError):
        text = "the engine closed the connection"
        if url.startswith("wss://"):
            text += " during the TLS handshake (does it serve plain ws:// instead?)"
    return text or type(exc).__name__


def _head(data: object) -> str:
    """The start of a frame, for a report."""
    if isinstance(data, str):
        return data[:200]
    if isinstance(data, bytes | bytearray | memoryview):
        return repr(bytes(data[:40]))
    return type(data).__name__
