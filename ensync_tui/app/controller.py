"""The explorer's state and what the status bar shows. Plain Python, no Textual.

The main screen hands each fact the runtime reports to the controller and draws
what the controller then holds: the records (``History``) and their filter, the
subscriptions, the connection state, and what the dialogs recall (sent messages,
replay searches). What the user is told is kept in ``notices``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ensync_tui.app.drafts import Drafts
from ensync_tui.app.history import Entry, History, MessageState
from ensync_tui.errors import error_text
from ensync_tui.protocol import replies
from ensync_tui.safetext import visible
from ensync_tui.settings import Settings

__all__ = ["MAX_NOTICES", "SHARED_QUEUE", "Controller", "Offline", "Status"]

MAX_NOTICES = 50
SHARED_QUEUE = (
    "Manual ack: the engine sends each name's next message once you answer this one "
    "(a, d or x). Subscribing with the identity of a running service takes messages from "
    "it, and a message you leave unanswered holds back that name's queue for everyone "
    "using the identity, until you answer it or the engine's ack_wait passes."
)
Ack = tuple[str, str, int]  # (message name, idem, block)


def with_demo(mine: Settings, demo: Settings) -> Settings:
    """A demo's connection with the explorer's own choices: history, auto-ack, keys,
    and the names to subscribe to when some were given."""
    return dataclasses.replace(
        demo,
        history=mine.history,
        auto_ack=mine.auto_ack or demo.auto_ack,
        keys=dict(mine.keys),
        subscribe=list(mine.subscribe) or list(demo.subscribe),
    )


@dataclass(slots=True)
class Status:
    """What the status bar shows."""

    url: str = ""
    state: str = "connecting"  # a client connection state, or "offline" (nothing to connect to)
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""
    rtt: float | None = None
    public_key: str = ""
    received: int = 0
    held: int = 0
    capacity: int = 0
    acked: int = 0
    pending: int = 0
    auto_ack: bool = False
    follow: bool = True
    view: str = ""  # what the stream is filtered to ("" for everything)
    shown: int = 0  # messages in the filtered view
    searching: bool = False  # the filter is still going through the history


class Offline(Exception):
    """An engine action asked for while there is no connection."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Controller:
    """The records, subscriptions and connection the explorer knows of."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        *,
        demo: bool = False,
        history: History | None = None,
        read_only: str = "",
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.read_only = read_only  # why nothing can ask the engine (a recording is open)
        if history is None:
            history = History(settings.history, settings.app_secret_key, clock)
        self.history = history
        self.auto_ack = settings.auto_ack
        self.status = Status(
            url=settings.url or "",
            state=(
                "recording"
                if read_only
                else "connecting"
                if (settings.can_connect or demo)
                else "offline"
            ),
            capacity=self.history.maxlen,
            auto_ack=self.auto_ack,
        )
        self.subscriptions: list[str] = []
        self.paused: dict[str, str] = {}  # name -> reason
        self.seen_names: set[str] = set(settings.message_names)
        self.public_key = ""
        self.sent_history: list[dict[str, Any]] = []  # the composer's sent forms
        self.drafts = Drafts()  # ... and its unsent ones, by message name
        self.replay_history: list[tuple[str, str]] = []  # (name, idem) searched
        self.recent_filters: list[str] = []  # filters applied, newest last
        self.notices: list[tuple[str, str]] = []  # (severity, text), newest last
        self.retry_at: float | None = None  # when the client tries the engine again
        self.demo = demo
        self._queue_told = False  # SHARED_QUEUE said (once a run)
        self._names_known = 0
        # registered names and their schemas (from the management API, with an account key)
        self.registered: dict[str, dict[str, str]] = {}
        self.registry_problem = ""  # why they could not be read last time

    # -- what the user is told -------------------------------------------------
    def note(self, text: str, severity: str = "information") -> str:
        """Keep a notice (wire text in it shows its control characters as escapes)."""
        text = visible(text)
        self.notices.append((severity, text))
        del self.notices[:-MAX_NOTICES]
        return text

    # -- facts from the runtime ------------------------------------------------
    def receive(
        self,
        records: list[Entry],
        acked: list[Ack] | None = None,
        failures: list[tuple[str, Exception]] | None = None,
    ) -> tuple[list[Entry], str | None]:
        """Hold delivered records and note the auto-acks the runtime sent (it acks each
        record as it comes while auto-ack is on); returns the records and what to tell
        about the acks that failed."""
        history = self.history
        entries = history.add(records)
        if len(history.stats) != self._names_known:
            self.seen_names.update(history.stats)
            self._names_known = len(history.stats)
        problem = None
        if acked or failures:
            problem = self.acked(acked or [], failures or [])
        return entries, problem

    def connection(self, state: str, attempt: int, delay: float, reason: str) -> str | None:
        """A new connection state; returns what to tell the user, if anything."""
        status = self.status
        old = status.state
        status.state = state
        status.attempt = attempt
        status.delay = delay
        status.reason = reason
        self.retry_at = self.clock() + delay if state == "reconnecting" else None
        if state != "connected":
            status.rtt = None
        if state == "connected" and old == "reconnecting":
            return "reconnected"
        return None

    def measured(self, rtt: float) -> None:
        self.status.rtt = rtt

    def ready(self, settings: Settings, public_key: str) -> None:
        """Connected as ``public_key`` (with a demo's settings, maybe)."""
        self.settings = settings
        self.public_key = public_key
        self.status.public_key = public_key
        self.status.url = settings.url or ""
        self.seen_names.update(settings.message_names)

    def demo_started(self, settings: Settings) -> bool:
        """A demo's settings take over; True when the history was made anew (its size)."""
        self.settings = settings
        history = self.history
        history.secret_key = settings.app_secret_key
        fresh = settings.history != history.maxlen and not history.held
        if fresh:
            self.history = History(settings.history, settings.app_secret_key, self.clock)
            self.status.capacity = self.history.maxlen
        if settings.auto_ack:
            self.auto_ack = True
        self.status.url = settings.url or ""
        return fresh

    def connected_notice(self) -> str | None:
        """What to say once connected: with manual ack, that the explorer competes for
        the identity's queue (once a run; never in the demo, whose identity is its own)."""
        if self.auto_ack or self.demo or self._queue_told:
            return None
        self._queue_told = True
        return SHARED_QUEUE

    def offline(self) -> None:
        """There is nothing to connect to."""
        self.status.state = "offline"

    def subscribed(self, names: list[str], paused: dict[str, str]) -> set[str]:
        """The subscriptions now; returns the names no longer subscribed."""
        dropped = set(self.subscriptions) - set(names)
        self.subscriptions = list(names)
        self.paused = dict(paused)
        self.seen_names.update(names)
        return dropped

    def registry_read(self, names: dict[str, dict[str, str]]) -> str | None:
        """The registered names, read again; what to tell (the first time, or after a failure)."""
        first = not self.registered or bool(self.registry_problem)
        self.registered = dict(names)
        self.seen_names.update(names)
        self.registry_problem = ""
        if not first:
            return None
        schemas = sum(1 for schema in names.values() if schema)
        return f"{len(names)} registered names read, {schemas} with a schema"

    def registry_failed(self, reason: str) -> str | None:
        """Reading the registered names failed; what to tell (once per reason)."""
        if reason == self.registry_problem:
            return None
        self.registry_problem = reason
        return f"registered names not read: {reason}"

    def schema_of(self, name: str) -> dict[str, str] | None:
        """The registered schema of ``name``, if one is known."""
        return self.registered.get(name) or None

    def replayed(self, record: replies.Record) -> Entry:
        """A replay result: marked replayed (added when not held) and remembered."""
        if (record.name, record.idem) not in self.replay_history:
            self.replay_history.append((record.name, record.idem))
        entry = self.history.add_replayed(record)
        self.seen_names.add(entry.name)
        return entry

    def acked(self, items: list[Ack], failures: list[tuple[str, Exception]]) -> str | None:
        """Auto-acks done; returns what to tell about those that failed."""
        failed = {idem for idem, _ in failures}
        for _, idem, _ in items:
            if idem not in failed:
                self.history.set_state(idem, MessageState.ACKED)
        if failures:
            return f"auto-ack failed for {len(failures)}: {error_text(failures[0][1])}"
        return None

    def toggle_auto_ack(self) -> str:
        self.auto_ack = not self.auto_ack
        return "auto-ack on: records are acked as they arrive" if self.auto_ack else "manual ack"

    def set_filter(self, name: str | bool | None = False, text: str | None = None) -> None:
        """Change the name (None: all; False: keep it) and/or the filter text (None:
        keep it); QueryError (and nothing changes) when the text does not read."""
        current = self.history.filter
        new_name = current.name if name is False else name
        new_text = current.text if text is None else text
        self.history.set_filter(
            new_name if isinstance(new_name, str) else None,
            new_text,
            contacts=dict(self.settings.contacts),
            self_key=self.public_key,
        )

    # -- questions -------------------------------------------------------------
    def offline_reason(self) -> str | None:
        """Why the engine cannot be asked anything now, or None when connected."""
        if self.read_only:
            return self.read_only
        state = self.status.state
        if state == "connected":
            return None
        return f"not connected to the engine ({'not set up' if state == 'offline' else state})"

    def reconnect_refusal(self) -> str | None:
        """Why "reconnect now" has nothing to do, or None when it can try."""
        status = self.status
        if status.state == "connected":
            return "already connected"
        if status.state == "offline":
            return "no engine is set up: see how to connect on the main screen"
        if status.state == "closed":
            return f"the connection is closed: {visible(status.reason) or 'no reason given'}"
        return None

    def refusal(self, label: str) -> str | None:
        """What to say when ``label`` cannot run now, or None when it can."""
        reason = self.offline_reason()
        return None if reason is None else f"{label} failed: {reason}"

    def known_names(self) -> list[str]:
        return sorted(self.seen_names | set(self.subscriptions) | set(self.history.stats))

    def recent_idems(self, count: int) -> list[tuple[str, str]]:
        """(name, idem) of the newest ``count`` held records, newest first."""
        entries = self.history.entries
        return [
            (entries[i].name, entries[i].idem)
            for i in range(len(entries) - 1, max(-1, len(entries) - 1 - count), -1)
        ]

    def senders(self) -> dict[str, str]:
        """Contact names by public key, and "self" for this identity: senders show by these."""
        names = {key: name for name, key in self.settings.contacts.items() if key}
        if self.public_key:
            names[self.public_key] = "self"
        return names

    def no_subscriptions_hint(self) -> str:
        key = self.settings.keys.get("subscribe", "s")
        return f"No subscriptions yet:\npress {key} to subscribe"

    def lacks_subscriptions(self) -> bool:
        """Connected with nothing subscribed (e.g. every configured name was refused)."""
        return self.status.state == "connected" and not self.subscriptions

    def project(self, follow: bool) -> Status:
        """The status bar now: the counts, the view, the reconnect countdown."""
        status = self.status
        history = self.history
        status.received = history.received
        status.held = history.held
        status.acked = history.acked
        status.pending = history.pending
        status.auto_ack = self.auto_ack
        status.follow = follow
        current = history.filter
        parts = (current.name or "", f"/{current.text}" if current.text else "")
        status.view = " ".join(part for part in parts if part)
        status.shown = len(history) if current.active else 0
        status.searching = history.scanning
        if self.retry_at is not None:  # "reconnecting n in s" counts down
            status.delay = max(0.0, self.retry_at - self.clock())
        return status
