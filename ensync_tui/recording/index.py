"""An offset index of a recording (or an export, or tail output), built a chunk at
a time, so a file of millions of records is browsed without being read into
memory: each row is read from the file when it is wanted.

Per row the index keeps where its line is, its message name and its state; per
idem the row it is (a record delivered again is the same row, as in the live
explorer). A line of a known shape is read without a JSON parse (the writer
puts ``type``, ``at``, the name and the idem first); anything else is parsed.
Unreadable lines (a torn last line, text that is not ours) are counted and
skipped; a last line without its newline waits until the file grows.
"""

from __future__ import annotations

import os
import threading
from array import array
from pathlib import Path

from ensync_tui.recording.reader import STATES, Item, Row, loads, parse_line, parse_row

__all__ = ["CHUNK", "Index"]

CHUNK = 4 << 20  # bytes read at a time
NEW, ACKED, DEFERRED, DISCARDED, REPLAYED = range(5)
_CODES = {name: code for code, name in enumerate(STATES)}
_REC = b'{"type":"record","at":'
_STATE = b'{"type":"state","at":'
_NAME = b',"record":{"name":"'
_IDEM = b',"idem":"'


def _string_end(line: bytes, start: int) -> int:
    """Where the JSON string that starts at ``start`` ends (its closing quote)."""
    end = line.find(b'"', start)
    while end > 0 and line[end - 1] == 0x5C:  # a backslash: escaped, unless itself escaped
        slashes = 0
        i = end - 1
        while line[i] == 0x5C:
            slashes += 1
            i -= 1
        if not slashes & 1:
            break
        end = line.find(b'"', end + 1)
    return end


class Index:
    """Rows of one file, as far as it has been read (``build`` reads more)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._fd = os.open(self.path, os.O_RDONLY)
        self.offsets = array("q")  # where each row's line starts
        self.lengths = array("l")  # and how long it is (without the newline)
        self.name_of = array("l")  # the row's message name, as an index into names
        self.states = bytearray()  # the row's state code
        self.names: list[str] = []
        self.received: list[int] = []  # rows per name
        self.pending: list[int] = []  # rows per name still new
        self.acked = 0
        self.by_idem: dict[bytes, int] = {}  # the idem as written (JSON text) -> row
        self.published: list[int] = []  # offsets of published lines
        self.connections = 0
        self.skipped = 0  # unreadable lines
        self.position = 0  # bytes read
        self.done = False  # read to the end (as it was when build last ran)
        self.lock = threading.Lock()  # held while rows are added
        self._name_ids: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.offsets)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    # -- reading rows ----------------------------------------------------------
    def line(self, row: int) -> bytes:
        return os.pread(self._fd, self.lengths[row], self.offsets[row])

    def row(self, row: int) -> Row:
        """The row, read from the file (ValueError if the file changed under us)."""
        item = parse_line(self.line(row))
        if item is None or item.row is None:
            raise ValueError(f"row {row} of {self.path} is not readable any more")
        return item.row

    def state(self, row: int) -> str:
        return STATES[self.states[row]]

    def idem_key(self, idem: str) -> bytes:
        """The key of ``idem`` in ``by_idem`` (as the writer writes it)."""
        from ensync_tui.recording.lines import dumps

        return dumps(idem)[1:-1].encode()

    def items(self, kind: str) -> list[Item]:
        """The published lines (``kind="published"``), read from the file."""
        out = []
        for offset in self.published if kind == "published" else []:
            chunk = os.pread(self._fd, CHUNK, offset)
            end = chunk.find(b"\n")
            item = parse_line(chunk if end < 0 else chunk[:end])
            if item is not None:
                out.append(item)
        return out

    # -- building --------------------------------------------------------------
    def build(self, budget: int = CHUNK) -> int:
        """Read up to ``budget`` more bytes; returns how many rows were added."""
        before = len(self.offsets)
        data = os.pread(self._fd, budget, self.position)
        if not data:
            self.done = True
            return 0
        base = self.position
        last = data.rfind(b"\n")
        if last < 0:
            if len(data) < budget:  # a last line without its newline: torn, or being written
                self.done = True
                return 0
            return self._long_line(base)
        with self.lock:
            start = 0
            find = data.find
            while start <= last:
                end = find(b"\n", start)
                if end > start:
                    self._add(data, start, end, base)
                start = end + 1
            self.position = base + last + 1
        self.done = len(data) < budget and last == len(data) - 1
        return len(self.offsets) - before

    def _long_line(self, base: int) -> int:
        """A line longer than a chunk: find its end, then index it alone."""
        end = base
        while True:
            data = os.pread(self._fd, CHUNK, end)
            cut = data.find(b"\n")
            if cut >= 0:
                end += cut
                break
            if len(data) < CHUNK:
                self.done = True
                return 0
            end += len(data)
        before = len(self.offsets)
        line = os.pread(self._fd, end - base, base)
        with self.lock:
            self._add(line, 0, len(line), base)
            self.position = end + 1
        return len(self.offsets) - before

    def _add(self, data: bytes, start: int, end: int, base: int) -> None:
        if data.startswith(_REC, start) and self._fast_record(data, start, end, base):
            return
        if data.startswith(_STATE, start) and self._fast_state(data, start, end):
            return
        try:
            obj = loads(data[start:end])
        except (ValueError, RecursionError, UnicodeDecodeError):
            self.skipped += 1
            return
        if not isinstance(obj, dict):
            self.skipped += 1
            return
        kind = obj.get("type")
        if kind == "state":
            idem, state = obj.get("idem"), obj.get("state")
            if isinstance(idem, str) and state in _CODES:
                self._set_state(self.idem_key(idem), _CODES[state])
            return
        if kind == "published":
            self.published.append(base + start)
            return
        if kind == "connection":
            self.connections += 1
            return
        if kind == "recording":
            return
        row = parse_row(obj)
        if row is None:
            self.skipped += 1
            return
        from ensync_tui.recording.lines import dumps

        name = dumps(row.record.name)[1:-1].encode()
        code = _CODES.get(row.state, NEW) if row.plain else (REPLAYED if row.replayed else NEW)
        self._add_row(base + start, end - start, name, self.idem_key(row.record.idem), code)

    def _fast_record(self, data: bytes, start: int, end: int, base: int) -> bool:
        at_end = data.find(b",", start + len(_REC), end)
        if at_end < 0 or not data.startswith(_NAME, at_end):
            return False
        name_start = at_end + len(_NAME)
        name_end = _string_end(data, name_start)
        if name_end < 0 or name_end >= end or not data.startswith(_IDEM, name_end + 1):
            return False
        idem_start = name_end + 1 + len(_IDEM)
        idem_end = _string_end(data, idem_start)
        if idem_end < 0 or idem_end >= end or data[end - 1] != 0x7D:  # "}"
            return False
        replayed = data.endswith(b',"replayed":true}', start, end)
        code = REPLAYED if replayed else NEW
        self._add_row(
            base + start,
            end - start,
            data[name_start:name_end],
            data[idem_start:idem_end],
            code,
        )
        return True

    def _fast_state(self, data: bytes, start: int, end: int) -> bool:
        at_end = data.find(b",", start + len(_STATE), end)
        if at_end < 0 or not data.startswith(_IDEM, at_end):
            return False
        idem_start = at_end + len(_IDEM)
        idem_end = _string_end(data, idem_start)
        mark = data.find(b',"state":"', idem_end, end)
        if idem_end < 0 or mark < 0:
            return False
        state_end = data.find(b'"', mark + 10, end)
        code = _CODES.get(data[mark + 10 : state_end].decode("ascii", "replace"))
        if code is None:
            return False
        self._set_state(data[idem_start:idem_end], code)
        return True

    def _add_row(self, offset: int, length: int, name: bytes, idem: bytes, code: int) -> None:
        known = self.by_idem.get(idem)
        if known is not None:  # delivered again, or replayed: the same row
            if code == REPLAYED:
                self._change(known, REPLAYED)
            elif self.states[known] in (ACKED, DEFERRED, DISCARDED):
                self._change(known, NEW)
            return
        name_id = self._name_ids.get(name)
        if name_id is None:
            name_id = self._name_ids[name] = len(self.names)
            text = name.decode("utf-8", "replace")
            self.names.append(loads(b'"' + name + b'"') if b"\\" in name else text)
            self.received.append(0)
            self.pending.append(0)
        row = len(self.offsets)
        self.by_idem[idem] = row
        self.offsets.append(offset)
        self.lengths.append(length)
        self.name_of.append(name_id)
        self.states.append(code)
        self.received[name_id] += 1
        if code == NEW:
            self.pending[name_id] += 1
        elif code == ACKED:
            self.acked += 1

    def _set_state(self, idem: bytes, code: int) -> None:
        row = self.by_idem.get(idem)
        if row is not None:
            self._change(row, code)

    def _change(self, row: int, code: int) -> None:
        old = self.states[row]
        if old == code:
            return
        name_id = self.name_of[row]
        if old == NEW:
            self.pending[name_id] -= 1
        if code == NEW:
            self.pending[name_id] += 1
        if old == ACKED:
            self.acked -= 1
        if code == ACKED:
            self.acked += 1
        self.states[row] = code

    @property
    def pending_total(self) -> int:
        return sum(self.pending)
