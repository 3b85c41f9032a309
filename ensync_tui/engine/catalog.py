"""The tables of registered names and access keys in the engine database, and how
engine.toml seeds them.

engine.toml seeds the database; the management API changes it. At each start every
``[[messages]]``, ``[[clients]]`` and ``[[accounts]]`` entry is compared with what was
applied from the file last time (a digest per entry, table ``seeds``): an entry that is
new, edited or removed in the file is applied, over what the API did to that name; an
entry unchanged in the file leaves the database as the API left it. So a change made
through the API survives restarts until that entry of engine.toml is edited.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from ensync_tui.engine.config import EngineConfig
from ensync_tui.engine.store import Store, StoreError

SERVICE, ACCOUNT = "SERVICE", "ACCOUNT"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    payload TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
    id TEXT PRIMARY KEY,
    access_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    public_key TEXT UNIQUE,
    send TEXT NOT NULL,
    receive TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seeds (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""

_KEY_COLUMNS = "id, access_key, name, type, public_key, send, receive, created_at"


@dataclass(slots=True)
class EventRecord:
    """A registered message name ("event" in EnSync's API) and its optional schema."""

    id: str
    name: str
    schema: dict[str, str] | None
    created_at: int  # ms since the epoch
    updated_at: int


@dataclass(slots=True)
class KeyRecord:
    """An access key: SERVICE (connects over WebSocket, has a key pair and
    permissions) or ACCOUNT (manages the engine through the API)."""

    id: str
    access_key: str
    name: str
    type: str
    created_at: int
    public_key: str | None = None
    send: list[str] = field(default_factory=list)
    receive: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # never show the access key
        return f"KeyRecord(id={self.id!r}, name={self.name!r}, type={self.type!r})"


def new_id() -> str:
    return str(uuid.uuid4())


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Catalog:
    """Reads and writes the tables; the caller holds the in-memory view (registry.py)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.executescript(_SCHEMA)

    # ------------------------------------------------------------------ reads

    def events(self) -> list[EventRecord]:
        rows = self.store.execute(
            "SELECT id, name, payload, created_at, updated_at FROM events"
            " ORDER BY created_at, rowid"
        )
        return [EventRecord(r[0], r[1], _schema(r[2]), r[3], r[4]) for r in rows]

    def access_keys(self) -> list[KeyRecord]:
        rows = self.store.execute(
            f"SELECT {_KEY_COLUMNS} FROM access_keys ORDER BY created_at, rowid"
        )
        return [_key(r) for r in rows]

    # ----------------------------------------------------------------- writes
    # each raises sqlite3.IntegrityError when a name, access key or public key is taken

    def put_event(self, e: EventRecord) -> None:
        payload = None if e.schema is None else json.dumps(e.schema, ensure_ascii=False)
        self.store.execute(
            "INSERT INTO events (id, name, payload, created_at, updated_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET name = excluded.name, payload = excluded.payload,"
            " updated_at = excluded.updated_at",
            (e.id, e.name, payload, e.created_at, e.updated_at),
        )

    def put_key(self, k: KeyRecord) -> None:
        self.store.execute(
            f"INSERT INTO access_keys ({_KEY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET access_key = excluded.access_key,"
            " name = excluded.name, type = excluded.type, public_key = excluded.public_key,"
            " send = excluded.send, receive = excluded.receive",
            (
                k.id,
                k.access_key,
                k.name,
                k.type,
                k.public_key,
                json.dumps(k.send, ensure_ascii=False),
                json.dumps(k.receive, ensure_ascii=False),
                k.created_at,
            ),
        )

    def delete_key(self, key_id: str) -> None:
        self.store.execute("DELETE FROM access_keys WHERE id = ?", (key_id,))

    # ---------------------------------------------------------------- seeding

    def seed(self, cfg: EngineConfig, now: int, label: str = "engine.toml") -> None:
        """Apply what is new, edited or removed in ``cfg`` since the last start."""
        with self.store.transaction():
            seeds = {(k, n): d for k, n, d in self.store.execute("SELECT * FROM seeds")}
            wanted: dict[tuple[str, str], tuple[str, Any]] = {}
            for m in cfg.messages:
                wanted["message", m.name] = (_digest([m.name, m.schema]), m)
            for c in cfg.clients:
                entry = [c.name, c.access_key, c.public_key, c.send, c.receive]
                wanted["client", c.name] = (_digest(entry), c)
            for a in cfg.accounts:
                wanted["account", a.name] = (_digest([a.name, a.access_key]), a)
            for kind, name in seeds.keys() - wanted.keys():
                self._remove(kind, name)
            for (kind, name), (digest, entry) in wanted.items():
                if seeds.get((kind, name)) == digest:
                    continue
                try:
                    self._apply(kind, entry, now)
                except sqlite3.IntegrityError:
                    raise StoreError(
                        f"{label}: {kind} {name!r}: {self._clash(entry)} (made through the"
                        " management API); change one of them"
                    ) from None
                self.store.execute(
                    "INSERT OR REPLACE INTO seeds VALUES (?, ?, ?)", (kind, name, digest)
                )

    def _remove(self, kind: str, name: str) -> None:
        if kind == "message":
            self.store.execute("DELETE FROM events WHERE name = ?", (name,))
        else:
            kind_type = SERVICE if kind == "client" else ACCOUNT
            self.store.execute(
                "DELETE FROM access_keys WHERE name = ? AND type = ?", (name, kind_type)
            )
        self.store.execute("DELETE FROM seeds WHERE kind = ? AND name = ?", (kind, name))

    def _apply(self, kind: str, entry: Any, now: int) -> None:
        if kind == "message":
            sql = "SELECT id, created_at FROM events WHERE name = ?"
            row = self.store.execute(sql, (entry.name,))
            key_id, created = row[0] if row else (new_id(), now)
            self.put_event(EventRecord(key_id, entry.name, entry.schema, created, now))
            return
        sql = "SELECT id, created_at FROM access_keys WHERE name = ?"
        row = self.store.execute(sql, (entry.name,))
        key_id, created = row[0] if row else (new_id(), now)
        if kind == "client":
            record = KeyRecord(
                key_id,
                entry.access_key,
                entry.name,
                SERVICE,
                created,
                entry.public_key,
                list(entry.send),
                list(entry.receive),
            )
        else:
            record = KeyRecord(key_id, entry.access_key, entry.name, ACCOUNT, created)
        self.put_key(record)

    def _clash(self, entry: Any) -> str:
        """Which key in the database already holds what ``entry`` wants."""
        for what, column in (("access key", "access_key"), ("public key", "public_key")):
            value = getattr(entry, column, None)
            if value is None:
                continue
            rows = self.store.execute(
                f"SELECT name FROM access_keys WHERE {column} = ? AND name != ?",
                (value, entry.name),
            )
            if rows:
                return f"its {what} belongs to the key {rows[0][0]!r} in the database"
        return "it clashes with an entry in the database"


def _schema(text: str | None) -> dict[str, str] | None:
    return None if text is None else json.loads(text)


def _key(r: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(r[0], r[1], r[2], r[3], r[7], r[4], json.loads(r[5]), json.loads(r[6]))
