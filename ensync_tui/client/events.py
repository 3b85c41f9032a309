"""What the client's protocol state machine (:mod:`.connection`) tells its transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ensync_tui.client.errors import EnSyncError
from ensync_tui.protocol import replies

__all__ = [
    "Answer",
    "Authenticated",
    "Delivery",
    "Event",
    "LinkDead",
    "Malformed",
    "Orphan",
    "PingDue",
    "Ready",
    "ResubscribeFailed",
    "Send",
    "SetupFailed",
    "Slot",
    "Wanted",
]


class Slot:
    """One request waiting for its answer; ``waiter`` is the transport's (a future)."""

    __slots__ = ("abandoned", "deadline", "timeout", "verb", "waiter")

    def __init__(self, verb: str, waiter: Any, deadline: float, timeout: float) -> None:
        self.verb = verb
        self.waiter = waiter
        self.deadline = deadline  # float("inf"): nobody waits (auto-ack)
        self.timeout = timeout
        self.abandoned = False

    def __repr__(self) -> str:
        return f"<Slot {self.verb}{' abandoned' if self.abandoned else ''}>"


@dataclass(slots=True)
class Wanted:
    """A subscription to restore after a reconnect (a client's Subscription is one too)."""

    paused: bool = False
    pause_reason: str = ""
    confirmed: bool = False  # the engine took a SUB for it (on this or an earlier link)


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of the request on ``slot``: a frame, or the EnSyncError it means."""

    slot: Slot
    result: Any


@dataclass(frozen=True, slots=True)
class Delivery:
    record: replies.Record


@dataclass(frozen=True, slots=True)
class Send:
    """A frame to send now (PONG, CONN, the resubscribe plan)."""

    text: str


@dataclass(frozen=True, slots=True)
class Orphan:
    """An answer that arrived while no request was pending."""

    frame: replies.Pass | replies.Fail | replies.ReplayReply


@dataclass(frozen=True, slots=True)
class Malformed:
    text: str
    error: str


@dataclass(frozen=True, slots=True)
class Authenticated:
    client_id: str
    client_hash: str


@dataclass(frozen=True, slots=True)
class SetupFailed:
    """CONN was refused or went unanswered: this link is of no use."""

    error: EnSyncError


@dataclass(frozen=True, slots=True)
class ResubscribeFailed:
    name: str
    error: EnSyncError


@dataclass(frozen=True, slots=True)
class Ready:
    """Logged in and resubscribed: requests may flow."""


@dataclass(frozen=True, slots=True)
class PingDue:
    """Send a keepalive ping now, and report its pong."""


@dataclass(frozen=True, slots=True)
class LinkDead:
    reason: str


Event = (
    Answer
    | Delivery
    | Send
    | Orphan
    | Malformed
    | Authenticated
    | SetupFailed
    | ResubscribeFailed
    | Ready
    | PingDue
    | LinkDead
)
