"""The records the explorer holds: a bounded ring with per-record state. Pure, no Textual.

Payloads stay encrypted until something needs them (a visible row, the
selected record, the filter); the decrypted value or the reason it failed is
then cached on the entry.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ensync_tui.app.filtering import Filter
from ensync_tui.app.rates import Rates
from ensync_tui.protocol import crypto, replies


class MessageState(StrEnum):
    """What the explorer knows of a held record (its row's colour and state column)."""

    NEW = "new"
    ACKED = "acked"
    DEFERRED = "deferred"
    DISCARDED = "discarded"
    REPLAYED = "replayed"
    UNDECRYPTABLE = "undecryptable"  # shown for a new record whose payload cannot be read


_UNSET: Any = object()
DEFAULT_METADATA: dict[str, Any] = {"persist": True, "headers": {}}  # never mutated
# Payloads up to this size (base64 characters) cost at most a few milliseconds to
# decrypt and parse: the UI loop opens those itself, larger ones go to a thread.
SMALL_PAYLOAD = 8 * 1024
SCAN_SECONDS = 0.015  # the most one filter step takes on the UI loop
OPEN_BATCH = 256  # payloads a filter has opened in the background at a time


class Entry:
    """One held record, its state and its cached decrypted payload."""

    __slots__ = (
        "_text",
        "block",
        "deliveries",
        "error",
        "idem",
        "logged_at",
        "metadata",
        "name",
        "payload",
        "sender",
        "seq",
        "state",
        "timeline",
        "value",
    )

    def __init__(self, record: replies.Record, seq: int = 0) -> None:
        self.seq = seq
        self.name = sys.intern(record.name)
        self.idem = record.idem
        self.block = record.block
        self.logged_at = record.logged_at
        self.payload = record.payload
        metadata = record.metadata
        # one shared object for the common case
        self.metadata = DEFAULT_METADATA if metadata == DEFAULT_METADATA else metadata
        self.sender = sys.intern(record.sender)
        self.state = MessageState.NEW
        self.deliveries = 1  # how often the engine delivered it (more: redelivered)
        # what happened to it after it came (event, wall-clock time); None until something did
        self.timeline: list[tuple[str, float]] | None = None
        self.value: Any = _UNSET  # decrypted JSON value, once known
        self.error = ""  # why decryption failed, once known
        self._text: str | None = None  # compact payload JSON for the filter

    def note(self, event: str) -> None:
        """Something happened to it: acked, deferred, redelivered, discarded, replayed."""
        if self.timeline is None:
            self.timeline = []
        self.timeline.append((event, time.time()))

    def states(self) -> list[tuple[str, float]]:
        """Every state it went through with its time: new (when the engine logged it), then
        each event, the last one being its current state."""
        return [(MessageState.NEW, self.logged_at / 1000), *(self.timeline or [])]

    @property
    def decrypted(self) -> bool:
        return self.value is not _UNSET

    @property
    def size(self) -> int:
        return len(self.payload)

    @property
    def small(self) -> bool:
        """Whether the payload is cheap enough to open on the UI loop."""
        return len(self.payload) <= SMALL_PAYLOAD

    @property
    def shown_state(self) -> MessageState:
        if self.error and self.state == MessageState.NEW:
            return MessageState.UNDECRYPTABLE
        return self.state

    def record_dict(self) -> dict[str, Any]:
        """The record as the engine sent it."""
        return replies.Record(
            self.name,
            self.idem,
            self.block,
            self.logged_at,
            self.payload,
            self.metadata,
            self.sender,
        ).to_dict()

    def decrypt(self, secret_key: str | None) -> Any:
        """The payload's JSON value (cached); None with ``error`` set when it cannot be read."""
        if self.value is not _UNSET:
            return self.value
        if self.error:
            return None
        if not secret_key:
            self.error = "cannot decrypt: no app secret key set"
            return None
        try:
            self.value = crypto.decrypt_payload(self.payload, secret_key)
        except crypto.DecryptError as exc:
            self.error = str(exc)
            return None
        except Exception as exc:  # a malformed record must never break the view
            self.error = f"cannot decrypt: {exc}"
            return None
        return self.value

    def payload_json(self, secret_key: str | None) -> str:
        """Compact JSON of the payload as sent ("" when undecryptable), cached for the filter."""
        if self._text is None:
            value = self.decrypt(secret_key)
            text = ""
            if not self.error:
                try:
                    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                except Exception:  # nested too deeply to write back: only its fields match
                    text = ""
            self._text = text
        return self._text

    def payload_text(self, secret_key: str | None) -> str:
        """Lower-cased compact JSON of the payload ("" when undecryptable), for matching."""
        return self.payload_json(secret_key).lower()

    @property
    def text_ready(self) -> bool:
        """Whether the filter can match the payload without decrypting it."""
        return self._text is not None


@dataclass(slots=True)
class NameStats:
    """Counters for one message name."""

    received: int = 0
    pending: int = 0
    times: Rates = field(default_factory=Rates)  # records per second, the last two minutes

    def add(self, now: float, count: int) -> None:
        self.times.add(now, count)
        self.received += count
        self.pending += count

    def rate(self, now: float) -> float:
        return self.times.rate(now)


class History:
    """A bounded ring of entries, an index by idem, counters and the filtered view."""

    def __init__(
        self,
        maxlen: int = 100_000,
        secret_key: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.maxlen = max(1, int(maxlen))
        self.secret_key = secret_key
        self.clock: Callable[[], float] = clock or time.monotonic
        self.entries: deque[Entry] = deque(maxlen=self.maxlen)
        self.by_idem: dict[str, Entry] = {}
        self.stats: dict[str, NameStats] = {}
        self.received = 0
        self.times = Rates()  # all names together
        self.acked = 0
        self.pending = 0
        self._seq = 0
        self.filter = Filter()
        self._filtering = False
        self.background = False  # the filter's payloads are opened off the UI loop (waiting)
        self.view: deque[Entry] = deque()  # filtered entries, when a filter is active
        self.scan_pos = 0  # how far the filter has scanned (seq), for incremental filtering
        self.scanning = False
        # large payloads the filter must see opened (off the UI loop) before it goes on
        self.waiting: list[Entry] = []

    # -- reading -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.view) if self.filter.active else len(self.entries)

    def __getitem__(self, index: int) -> Entry:
        return self.view[index] if self.filter.active else self.entries[index]

    def rows(self, start: int, stop: int) -> Iterator[Entry]:
        source = self.view if self.filter.active else self.entries
        stop = min(stop, len(source))
        for i in range(max(0, start), stop):
            yield source[i]

    def index_of(self, entry: Entry) -> int | None:
        """Row of an entry in the current view (binary search by seq)."""
        source = self.view if self.filter.active else self.entries
        lo, hi = 0, len(source)
        while lo < hi:
            mid = (lo + hi) // 2
            seq = source[mid].seq
            if seq < entry.seq:
                lo = mid + 1
            elif seq > entry.seq:
                hi = mid
            else:
                return mid
        return None

    def row_near(self, entry: Entry) -> int:
        """Row of ``entry`` in the view, or of the first one after it when it is not there."""
        source = self.view if self.filter.active else self.entries
        lo, hi = 0, len(source)
        while lo < hi:
            mid = (lo + hi) // 2
            if source[mid].seq < entry.seq:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def previous_of(self, entry: Entry, limit: int = 10_000) -> Entry | None:
        """The held message of the same name just before ``entry``, looking back ``limit``."""
        entries = self.entries
        name = entry.name
        i = self._position_after(entry.seq - 1) - 1  # the last one older than entry
        stop = max(-1, i - limit)
        while i > stop:
            other = entries[i]
            if other.name == name:
                return other
            i -= 1
        return None

    @property
    def held(self) -> int:
        return len(self.entries)

    def stat(self, name: str) -> NameStats:
        stats = self.stats.get(name)
        if stats is None:
            stats = self.stats[name] = NameStats()
        return stats

    # -- writing -------------------------------------------------------------
    def add(self, records: Iterable[Entry | replies.Record]) -> list[Entry]:
        """Add delivered records (or entries made from them ahead, off the UI loop).

        Returns the entries added or delivered again (the held one, for a known idem).
        """
        now = self.clock()
        added: list[Entry] = []
        counts: dict[str, int] = {}
        by_idem = self.by_idem
        append = self._append
        again = (MessageState.DEFERRED, MessageState.ACKED, MessageState.DISCARDED)
        for item in records:
            known = by_idem.get(item.idem)
            if known is not None:
                # delivered again (after a defer, a reconnect or a rollback)
                known.deliveries += 1
                known.note("redelivered")
                if known.state in again:
                    if known.state == MessageState.ACKED:
                        self.acked -= 1
                    known.state = MessageState.NEW
                    self.pending += 1
                    self.stat(known.name).pending += 1
                added.append(known)
                continue
            self._seq += 1
            entry = item if isinstance(item, Entry) else Entry(item)
            entry.seq = self._seq
            append(entry)
            counts[entry.name] = counts.get(entry.name, 0) + 1
            added.append(entry)
        for name, count in counts.items():
            self.stat(name).add(now, count)
            self.received += count
            self.pending += count
        if counts:
            self.times.add(now, sum(counts.values()))
        return added

    def add_replayed(self, record: replies.Record) -> Entry:
        """A replayed record: marks the held one, or adds it when it is not held."""
        known = self.by_idem.get(record.idem)
        if known is not None:
            if known.state == MessageState.NEW:
                self._settle(known)
            known.state = MessageState.REPLAYED
            known.note(MessageState.REPLAYED)
            return known
        self._seq += 1
        entry = Entry(record, self._seq)
        entry.state = MessageState.REPLAYED
        entry.note(MessageState.REPLAYED)
        self._append(entry)
        self.stat(entry.name)
        return entry

    def _append(self, entry: Entry) -> None:
        entries = self.entries
        if len(entries) == self.maxlen:
            old = entries.popleft()
            if self.by_idem.get(old.idem) is old:
                del self.by_idem[old.idem]
            view = self.view
            while view and view[0].seq <= old.seq:
                view.popleft()
        entries.append(entry)
        self.by_idem[entry.idem] = entry
        if self._filtering and not self.scanning:
            found = self.filter.matches(entry, self.secret_key, True, self.background)
            if found is None:
                self.scanning = True  # the scan takes it up once it is opened
            else:
                if found:
                    self.view.append(entry)
                self.scan_pos = entry.seq

    def _settle(self, entry: Entry) -> None:
        self.pending -= 1
        stats = self.stat(entry.name)
        stats.pending = max(0, stats.pending - 1)

    def set_state(self, idem: str, state: MessageState) -> Entry | None:
        """Record an action's outcome (acked, deferred, discarded) on a held entry."""
        entry = self.by_idem.get(idem)
        if entry is None:
            return None
        if entry.state == MessageState.NEW and state != MessageState.NEW:
            self._settle(entry)
        if state == MessageState.ACKED and entry.state != MessageState.ACKED:
            self.acked += 1
        if state != entry.state:
            entry.note(state)
        entry.state = state
        return entry

    # -- filtering -----------------------------------------------------------
    def set_filter(
        self,
        name: str | None = None,
        text: str = "",
        contacts: dict[str, str] | None = None,
        self_key: str = "",
    ) -> None:
        """Change the filter (QueryError when ``text`` does not read, and nothing
        changes); call ``scan`` until it returns True to fill the view."""
        self.filter = Filter(name, text, contacts, self_key)
        self._filtering = self.filter.active
        self.view = deque()
        self.scan_pos = 0
        self.scanning = self.filter.active
        self.waiting = []

    def scan(self, budget: int = 5_000, seconds: float = SCAN_SECONDS) -> bool:
        """Match up to ``budget`` more entries (for at most ``seconds``); True when done.

        At a payload the filter needs and that is not opened yet (a large one, or any
        with ``background``) the scan stops, with ``waiting`` listing the next of
        those: open them (``Filter.open``) off the UI loop, then scan again.
        """
        self.waiting = []
        if not self.scanning:
            return True
        entries = self.entries
        key = self.secret_key
        matches = self.filter.matches
        background = self.background
        # seq grows along the ring, so resume from the first entry after scan_pos
        start = self._position_after(self.scan_pos)
        stop = min(len(entries), start + budget)
        view = self.view
        deadline = time.perf_counter() + seconds
        for i in range(start, stop):
            entry = entries[i]
            found = matches(entry, key, True, background)
            if found is None:
                self.waiting = self._unopened(i)
                return False
            if found:
                view.append(entry)
            self.scan_pos = entry.seq
            if not i & 63 and time.perf_counter() > deadline:
                return False
        if stop >= len(entries):
            self.scanning = False
            return True
        return False

    def scan_progress(self) -> tuple[int, int]:
        """(entries the filter has gone through, entries held)."""
        if not self.scanning:
            return len(self.entries), len(self.entries)
        return self._position_after(self.scan_pos), len(self.entries)

    def _unopened(self, start: int, look: int = 4_096) -> list[Entry]:
        """The next payloads the filter needs and has not opened, from ``start``."""
        count = OPEN_BATCH if self.background else 8
        found: list[Entry] = []
        entries = self.entries
        matches, key, background = self.filter.matches, self.secret_key, self.background
        for i in range(start, min(len(entries), start + look)):
            entry = entries[i]
            if matches(entry, key, True, background) is None:
                found.append(entry)
                if len(found) >= count:
                    break
        return found

    def _position_after(self, seq: int) -> int:
        entries = self.entries
        lo, hi = 0, len(entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if entries[mid].seq <= seq:
                lo = mid + 1
            else:
                hi = mid
        return lo
