"""SQLite storage: one row per (message, recipient), with its delivery state.

The store is synchronous and thread-safe (one connection guarded by a lock).
The engine groups many operations into one transaction per loop tick (see
writer.py); tests and benchmarks may call it directly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, BinaryIO, NamedTuple

try:
    import fcntl
except ImportError:  # pragma: no cover - not on this platform
    fcntl = None  # type: ignore[assignment]

PENDING, ACKED, DISCARDED, DEFERRED = 0, 1, 2, 3
STATE_NAMES = {PENDING: "pending", ACKED: "acked", DISCARDED: "discarded", DEFERRED: "deferred"}
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    idem TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    block INTEGER NOT NULL,
    logged_at INTEGER NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    persist INTEGER NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS ix_pending ON messages (recipient, name, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS ix_deferred ON messages (due_at) WHERE state = 3;
CREATE TABLE IF NOT EXISTS blocks (name TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COLUMNS = (
    "seq, idem, name, block, logged_at, sender, recipient, payload, metadata, persist, "
    "state, due_at, reason"
)


_BRIEF = _COLUMNS.replace("payload, metadata", "'', ''")


class StoreError(Exception):
    """The database cannot be opened or is not an engine database."""


class StoreInUse(StoreError):
    """Another open store (another engine) holds the database file."""


def _claim(path: str) -> BinaryIO | None:
    """An exclusive lock on the database file, held while the store is open.

    Two engines on one file would hand out the same sequence numbers. None for
    an in-memory database, or where the file system has no locks.
    """
    if path == ":memory:" or path.startswith("file:") or fcntl is None:
        return None
    try:
        owner = os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
    except OSError:
        return None  # sqlite says why it cannot open it
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        raise StoreInUse(f"{path} is in use by another running engine") from None
    except OSError:  # no locks on this file system: go on without
        pass
    return owner


def make_private(path: str) -> None:
    """The database and its -wal and -shm files readable by their owner only
    (they hold message headers in clear). SQLite gives -wal and -shm the
    database file's mode; an older database made with a wider one is narrowed."""
    if path == ":memory:" or path.startswith("file:"):
        return
    for name in (path, path + "-wal", path + "-shm"):
        try:
            mode = os.stat(name).st_mode
            if mode & 0o077:
                os.chmod(name, stat.S_IMODE(mode) & 0o700)
        except OSError:
            pass  # missing (no WAL yet), or not ours: sqlite reports real problems


class NewMessage(NamedTuple):
    """A message to insert for one recipient."""

    seq: int
    idem: str
    name: str
    block: int
    logged_at: int
    sender: str
    recipient: str
    payload: str
    metadata: str  # compact JSON object
    persist: bool


class StoredMessage(NamedTuple):
    seq: int
    idem: str
    name: str
    block: int
    logged_at: int
    sender: str
    recipient: str
    payload: str
    metadata: str
    persist: bool
    state: int
    due_at: int | None
    reason: str | None


def record_json(m: NewMessage | StoredMessage, deliveries: int = 1) -> str:
    """The record object of ``+RECORD:``/``+REPLAY:`` (same fields as replies.Record).
    From its second delivery on, its metadata says so: ``"redelivered":true``
    and ``"deliveryCount"`` (placed last, so they win over a sender's keys).

    idem, payload and sender need no JSON escaping: the engine makes idems
    (hex) and accepts only base64 payloads and keys, so they are written as is.
    """
    metadata = m.metadata
    if deliveries > 1:
        mark = f'"redelivered":true,"deliveryCount":{deliveries}}}'
        metadata = metadata[:-1] + ("," if len(metadata) > 2 else "") + mark
    return (
        f'{{"name":{_json_name(m.name)},"idem":"{m.idem}","block":{m.block},'
        f'"loggedAt":{m.logged_at},"payload":"{m.payload}","metadata":{metadata},'
        f'"sender":"{m.sender}"}}'
    )


@lru_cache(maxsize=4096)
def _json_name(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


_MAX_ROWS = 512  # rows per INSERT: 10 parameters each, well under SQLite's 32766


def _chunk(left: int) -> int:
    """Rows for the next INSERT: a power of two, so few distinct statements get cached."""
    size = _MAX_ROWS
    while size > left:
        size //= 2
    return size


@lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    return (
        "INSERT INTO messages (seq, idem, name, block, logged_at, sender, recipient,"
        " payload, metadata, persist) VALUES " + ",".join(["(?,?,?,?,?,?,?,?,?,?)"] * rows)
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def _row(v: tuple[Any, ...]) -> StoredMessage:
    return StoredMessage(
        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], bool(v[9]), v[10], v[11], v[12]
    )


class Store:
    """The engine database. ``path`` is a file name or ``":memory:"``."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.RLock()
        self._owner = _claim(path)
        make_private(path)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._release()
            raise StoreError(f"{path}: cannot open the engine database: {exc}") from None
        except BaseException:
            self._release()
            raise
        self.last_seq = self._scalar("SELECT MAX(seq) FROM messages") or 0
        self.last_blocks: dict[str, int] = dict(
            self._db.execute("SELECT name, last FROM blocks").fetchall()
        )
        self._closed = False

    def _setup(self) -> None:
        db = self._db
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA cache_size=-65536")
        db.executescript(_SCHEMA)
        make_private(self.path)  # -wal and -shm exist now
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: database schema {row[0]}, expected {SCHEMA_VERSION}")

    def _scalar(self, sql: str, params: tuple = ()) -> int | None:
        row = self._db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit: everything inside commits together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def savepoint(self) -> None:
        """Inside a transaction: a point :meth:`rollback_savepoint` goes back to."""
        self._db.execute("SAVEPOINT item")

    def rollback_savepoint(self) -> None:
        self._db.execute("ROLLBACK TO item")
        self._db.execute("RELEASE item")

    def release_savepoint(self) -> None:
        self._db.execute("RELEASE item")

    def disable_autocheckpoint(self) -> None:
        """Leave WAL checkpoints to someone else (the engine runs them on a thread)."""
        with self._lock:
            self._db.execute("PRAGMA wal_autocheckpoint=0")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.path != ":memory:":
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()
                self._release()

    def _release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.close()  # and with it the lock

    # ----------------------------------------------------------------- writes

    def insert(self, messages: Iterable[NewMessage]) -> None:
        """Insert messages (call inside a transaction to make them one unit)."""
        rows = list(messages)
        if not rows:
            return
        blocks: dict[str, int] = {}
        for m in rows:
            if m.block > blocks.get(m.name, -1):
                blocks[m.name] = m.block
        with self._lock:
            # few statements with many rows each: every statement releases and
            # retakes the GIL, which is slow while the event loop is busy
            pos = 0
            while pos < len(rows):
                size = _chunk(len(rows) - pos)
                params = [v for m in rows[pos : pos + size] for v in m]
                self._db.execute(_insert_sql(size), params)
                pos += size
            self._db.executemany(
                "INSERT INTO blocks (name, last) VALUES (?, ?) ON CONFLICT(name)"
                " DO UPDATE SET last = MAX(last, excluded.last)",
                blocks.items(),
            )
            self.last_seq = max(self.last_seq, rows[-1].seq)
            for name, block in blocks.items():
                if block > self.last_blocks.get(name, 0):
                    self.last_blocks[name] = block

    def set_state(
        self,
        seq: int,
        state: int,
        due_at: int | None = None,
        reason: str | None = None,
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE messages SET state = ?, due_at = ?, reason = COALESCE(?, reason)"
                " WHERE seq = ?",
                (state, due_at, reason, seq),
            )

    def ack(self, idem: str, recipient: str, name: str, block: int) -> int | None:
        """Acknowledge a pending or deferred message in one statement; its seq,
        or None when nothing matched (the caller then finds out why)."""
        with self._lock:
            row = self._db.execute(
                "UPDATE messages SET state = 1, due_at = NULL WHERE idem = ? AND recipient = ?"
                " AND name = ? AND block = ? AND state IN (0, 3) RETURNING seq",
                (idem, recipient, name, block),
            ).fetchone()
        return None if row is None else int(row[0])

    def promote_due(self, now: int) -> list[StoredMessage]:
        """Deferred messages whose time has come become pending; returns them in order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE state = 3 AND due_at <= ? ORDER BY seq",
                (now,),
            ).fetchall()
            if rows:
                self._db.executemany(
                    "UPDATE messages SET state = 0, due_at = NULL WHERE seq = ?",
                    [(r[0],) for r in rows],
                )
        return [_row(r)._replace(state=PENDING, due_at=None) for r in rows]

    # ------------------------------------------------------------------ reads

    def get(self, idem: str, brief: bool = False) -> StoredMessage | None:
        """The message with this idem; ``brief`` leaves payload and metadata empty."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_BRIEF if brief else _COLUMNS} FROM messages WHERE idem = ?", (idem,)
            ).fetchone()
        return None if row is None else _row(row)

    def pending(
        self, recipient: str, name: str, after_seq: int = 0, limit: int = 500
    ) -> list[StoredMessage]:
        """Pending messages for one recipient and name, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages INDEXED BY ix_pending"
                " WHERE recipient = ? AND name = ? AND state = 0 AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (recipient, name, after_seq, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def pending_chunk(
        self, recipient: str, name: str, after_seq: int, limit: int, max_bytes: int
    ) -> tuple[list[StoredMessage], bool]:
        """Like :meth:`pending`, but it stops once the rows hold ``max_bytes`` of
        payload and metadata (one row at least); and whether there may be more."""
        out: list[StoredMessage] = []
        size = 0
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages INDEXED BY ix_pending"
                " WHERE recipient = ? AND name = ? AND state = 0 AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (recipient, name, after_seq, limit),
            )
            try:
                for r in cursor:
                    out.append(_row(r))
                    size += len(r[7]) + len(r[8])
                    if size >= max_bytes:
                        return out, True
            finally:
                cursor.close()
        return out, len(out) == limit

    def next_due(self) -> int | None:
        """When the earliest deferred message is due (ms since the epoch), if any."""
        with self._lock:
            return self._scalar("SELECT MIN(due_at) FROM messages WHERE state = 3")

    def delivery_state(self, idem: str, recipient: str) -> str | None:
        """``"pending"``, ``"acked"``, ``"discarded"``, ``"deferred"`` or None if unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM messages WHERE idem = ? AND recipient = ?", (idem, recipient)
            ).fetchone()
        return None if row is None else STATE_NAMES[row[0]]

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement, its rows (for the tables of names and keys, catalog.py)."""
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def executescript(self, sql: str) -> None:
        with self._lock:
            self._db.executescript(sql)

    def count(self, state: int | None = None) -> int:
        with self._lock:
            if state is None:
                return self._scalar("SELECT COUNT(*) FROM messages") or 0
            return self._scalar("SELECT COUNT(*) FROM messages WHERE state = ?", (state,)) or 0
