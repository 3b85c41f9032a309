"""A recording (or an export, or tail output) as the explorer's history, read from
the file a row at a time: the stream, the inspector, filters, Changes and
export work on it as on live records, and nothing asks an engine.

``FileHistory`` answers what the widgets ask a ``History`` (rows, the filtered
view, counts by name) from a ``recording.index.Index``; rows are made into
entries when they are drawn or looked at, and only the last few thousand are
kept. ``FileSource`` stands where the runtime would: it builds the index on a
thread and tells the main screen as rows arrive.
"""

from __future__ import annotations

import asyncio
import os
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from textual.message import Message

from ensync_tui.app.history import (
    SCAN_SECONDS,
    Entry,
    Filter,
    History,
    MessageState,
    NameStats,
)
from ensync_tui.app.messages import ConnectionChanged, RecordsReceived, SubscriptionsChanged
from ensync_tui.app.rates import Rates
from ensync_tui.app.runtime import NotConnected
from ensync_tui.protocol import replies
from ensync_tui.recording.index import Index
from ensync_tui.settings import Settings

__all__ = ["READ_ONLY", "FileHistory", "FileSource"]

CACHE = 20_000  # entries kept made
READ_ONLY = "a recording is open: there is no engine to ask"
REPORT_EVERY = 0.1  # seconds between two reports of rows read


class _Rows:
    """The rows as a sequence of entries (made when asked for)."""

    def __init__(self, history: FileHistory) -> None:
        self.history = history

    def __len__(self) -> int:
        return len(self.history.index)

    def __getitem__(self, row: int) -> Entry:
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self.history.entry(row)

    def __iter__(self) -> Iterator[Entry]:
        for row in range(len(self)):
            yield self.history.entry(row, keep=False)


class _ByIdem:
    def __init__(self, history: FileHistory) -> None:
        self.history = history

    def get(self, idem: str, default: Entry | None = None) -> Entry | None:
        index = self.history.index
        row = index.by_idem.get(index.idem_key(idem))
        return default if row is None else self.history.entry(row)

    def __contains__(self, idem: object) -> bool:
        return isinstance(idem, str) and self.get(idem) is not None


class FileHistory(History):
    """The rows of a file, as the widgets read a ``History``."""

    def __init__(self, index: Index, secret_key: str | None = None) -> None:
        # no super().__init__(): nothing here is held in memory but what is on screen
        self.index = index
        self.secret_key = secret_key
        self.clock = time.monotonic
        self.maxlen = 0
        self.filter = Filter()
        self.rows_in_view = array("l")  # the rows in the filtered view
        self.scan_pos = 0  # rows the filter has gone through
        self.scanning = False
        self.waiting: list[Entry] = []
        self.entries = _Rows(self)  # type: ignore[assignment]
        self.by_idem = _ByIdem(self)  # type: ignore[assignment]
        self._cache: OrderedDict[int, Entry] = OrderedDict()
        self._pinned: dict[int, Entry] = {}  # large payloads the filter waits for
        self._stats: dict[str, NameStats] = {}
        self.times = Rates()  # nothing arrives in a recording

    # -- counts ------------------------------------------------------------------
    @property
    def received(self) -> int:  # type: ignore[override]
        return len(self.index)

    @property
    def acked(self) -> int:  # type: ignore[override]
        return self.index.acked

    @property
    def pending(self) -> int:  # type: ignore[override]
        return self.index.pending_total

    @property
    def held(self) -> int:
        return len(self.index)

    @property
    def stats(self) -> dict[str, NameStats]:  # type: ignore[override]
        index = self.index
        for i in range(len(self._stats), len(index.names)):
            self._stats[index.names[i]] = NameStats()
        for i, name in enumerate(index.names):
            stats = self._stats[name]
            stats.received, stats.pending = index.received[i], index.pending[i]
        return self._stats

    def stat(self, name: str) -> NameStats:
        return self.stats.get(name) or NameStats()

    # -- rows --------------------------------------------------------------------
    def entry(self, row: int, keep: bool = True) -> Entry:
        """Row ``row`` as an entry (its state as the file has it so far)."""
        entry = self._cache.get(row) or self._pinned.get(row)
        if entry is None:
            entry = self._make(row)
            if keep:
                self._cache[row] = entry
                if len(self._cache) > CACHE:
                    self._cache.popitem(last=False)
        elif keep:
            self._cache.move_to_end(row)
        state = MessageState(self.index.state(row))
        if entry.state != state:
            entry.state = state
        return entry

    def _make(self, row: int) -> Entry:
        index = self.index
        try:
            found = index.row(row)
        except (ValueError, OSError) as exc:  # the file changed, or a line the client refuses
            name = index.names[index.name_of[row]]
            entry = Entry(replies.Record(name, f"(row {row + 1})", 0, 0, "", {}, ""), row + 1)
            entry.error = f"this line of the file cannot be read: {exc}"
            return entry
        entry = Entry(found.record, row + 1)
        if found.plain:
            if found.error:
                entry.error = found.error
            else:
                entry.value = found.value
        return entry

    def __len__(self) -> int:
        return len(self.rows_in_view) if self.filter.active else len(self.index)

    def __getitem__(self, index: int) -> Entry:
        if self.filter.active:
            return self.entry(self.rows_in_view[index])
        return self.entries[index]

    def rows(self, start: int, stop: int) -> Iterator[Entry]:
        stop = min(stop, len(self))
        for i in range(max(0, start), stop):
            row = self.rows_in_view[i] if self.filter.active else i
            yield self.entry(row, keep=False)

    def index_of(self, entry: Entry) -> int | None:
        row = entry.seq - 1
        if not 0 <= row < len(self.index):
            return None
        if not self.filter.active:
            return row
        at = bisect_left(self.rows_in_view, row)
        return at if at < len(self.rows_in_view) and self.rows_in_view[at] == row else None

    def row_near(self, entry: Entry) -> int:
        row = max(0, entry.seq - 1)
        return bisect_left(self.rows_in_view, row) if self.filter.active else row

    def previous_of(self, entry: Entry, limit: int = 10_000) -> Entry | None:
        row = entry.seq - 1
        if not 0 <= row < len(self.index):
            return None
        name_of = self.index.name_of
        name = name_of[row]
        for other in range(row - 1, max(-1, row - 1 - limit), -1):
            if name_of[other] == name:
                return self.entry(other)
        return None

    # -- nothing is added: the file is what it is ---------------------------------
    def add(self, records: Iterable[Entry | replies.Record]) -> list[Entry]:
        if self.filter.active and not self.scanning and self.scan_pos < len(self.index):
            self.scanning = True  # rows read since: the filter goes on through them
        return []

    def add_replayed(self, record: replies.Record) -> Entry:
        raise NotConnected()

    def set_state(self, idem: str, state: MessageState) -> Entry | None:
        return None

    # -- filtering -----------------------------------------------------------------
    def set_filter(
        self,
        name: str | None = None,
        text: str = "",
        contacts: dict[str, str] | None = None,
        self_key: str = "",
    ) -> None:
        self.filter = Filter(name, text, contacts, self_key)
        self.rows_in_view = array("l")
        self.scan_pos = 0
        self.scanning = self.filter.active
        self.waiting = []
        self._pinned = {}

    def scan(self, budget: int = 5_000, seconds: float = SCAN_SECONDS) -> bool:
        self.waiting = []
        if not self.scanning:
            return True
        index, wanted = self.index, self.filter
        name_id = -1
        if wanted.name is not None:
            name_id = index.names.index(wanted.name) if wanted.name in index.names else -2
        name_of = index.name_of
        stop = min(len(index), self.scan_pos + (budget * 20 if not wanted.text else budget))
        deadline = time.perf_counter() + seconds
        view, key = self.rows_in_view, self.secret_key
        row = self.scan_pos
        while row < stop:
            if name_id != -1 and name_of[row] != name_id:
                row += 1
                continue
            if wanted.text:
                entry = self.entry(row, keep=False)
                found = wanted.matches(entry, key, wait=True)
                if found is None:
                    self.waiting = self._unopened(row)
                    self._pinned = {e.seq - 1: e for e in self.waiting}
                    self.scan_pos = row
                    return False
                if not found:
                    row += 1
                    if not row & 63 and time.perf_counter() > deadline:
                        break
                    continue
            view.append(row)
            row += 1
            if not row & 63 and time.perf_counter() > deadline:
                break
        self.scan_pos = row
        self._pinned = {}
        if row >= len(index):
            self.scanning = False
            return True
        return False

    def _unopened(self, start: int, look: int = 1_000, count: int = 8) -> list[Entry]:
        found = []
        for row in range(start, min(len(self.index), start + look)):
            entry = self._pinned.get(row) or self.entry(row, keep=False)
            if self.filter.matches(entry, self.secret_key, wait=True) is None:
                found.append(entry)
                if len(found) >= count:
                    break
        return found


class FileSource:
    """In place of the runtime: reads the file's index on a thread, reports rows."""

    def __init__(
        self,
        settings: Settings,
        post: Callable[[Message], object],
        index: Index,
        report_every: float = REPORT_EVERY,
    ) -> None:
        self.settings = settings
        self.post = post
        self.index = index
        self.report_every = report_every
        self.loop: asyncio.AbstractEventLoop | None = None
        self.demo = None
        self.recorder = None
        self._stop = False
        self._names = 0

    @property
    def path(self) -> Path:
        return self.index.path

    def progress(self) -> str:
        """How far the file has been read ("" once it all has)."""
        if self.index.done:
            return ""
        try:
            size = os.fstat(self.index._fd).st_size
        except OSError:
            return "reading"
        return f"reading {100 * self.index.position // max(1, size)}%"

    async def run(self) -> None:
        self.run_in_thread()

    def run_in_thread(self) -> None:
        index = self.index
        last = 0.0
        self.post(ConnectionChanged("recording", reason="reading"))
        while not self._stop:
            try:
                added = index.build()
            except OSError as exc:
                self.post(ConnectionChanged("recording", reason=f"cannot read on: {exc}"))
                return
            now = time.monotonic()
            if added and now - last < self.report_every and not index.done:
                continue
            last = now
            self._report()
            if index.done:
                break
        self._report()

    def _report(self) -> None:
        index = self.index
        if len(index.names) != self._names:
            self._names = len(index.names)
            self.post(SubscriptionsChanged(list(index.names), {}))
        self.post(RecordsReceived([]))
        self.post(ConnectionChanged("recording", reason=self.progress()))

    def stop(self) -> None:
        self._stop = True

    async def close(self) -> None:
        self._stop = True

    async def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotConnected()

    subscribe = unsubscribe = ack = pause = resume = _refuse
    defer = discard = replay = publish = _refuse
