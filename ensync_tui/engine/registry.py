"""The message names and access keys the engine knows, as the management API reads
and changes them.

A change is checked, written to the database (catalog.py), and then applied to the
broker's live view, so it holds for the next request of every connection: a new
SERVICE key can CONN, a new name can be published, changed permissions are checked
on the next PUB or SUB. Deleting a key or rotating its key pair drops the
connections that use it (they would act with an identity that is gone).
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ensync_tui.engine.broker import Broker
from ensync_tui.engine.catalog import (
    ACCOUNT,
    SERVICE,
    Catalog,
    EventRecord,
    KeyRecord,
    new_id,
)
from ensync_tui.engine.config import ClientSpec, EngineConfig, MessageSpec
from ensync_tui.engine.sandbox import new_access_key
from ensync_tui.engine.store import Store
from ensync_tui.protocol.crypto import generate_keypair
from ensync_tui.protocol.limits import name_problem
from ensync_tui.protocol.schema import SCHEMA_TYPES
from ensync_tui.safetext import visible

log = logging.getLogger("ensync_tui.engine")

MAX_NAME = 256  # characters in a message name, a key name or a schema field
MAX_FIELDS = 256  # fields in a schema
MAX_PATTERNS = 256  # names or patterns in a permission list
KEY_TYPES = (SERVICE, ACCOUNT)


class RegistryError(Exception):
    """A change that was refused; nothing was changed. The text says why."""

    status = 400


class NotFound(RegistryError):
    status = 404


class Conflict(RegistryError):
    status = 409


# ------------------------------------------------------------------- checks


def event_name_problem(name: Any) -> str | None:
    """The protocol's name rules, and for names made here: at most MAX_NAME characters,
    none of them a control or format character (they would act on a terminal)."""
    problem = name_problem(name)
    if problem is None and len(name) > MAX_NAME:
        return f"a message name has at most {MAX_NAME} characters"
    if problem is None and not name.isprintable():
        return "a message name must not hold control or format characters"
    return problem


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not ``{field: type word}``, or None."""
    if not isinstance(schema, dict):
        return "payload must be an object of field names and type words"
    if len(schema) > MAX_FIELDS:
        return f"payload has {len(schema)} fields, at most {MAX_FIELDS}"
    for key, kind in schema.items():
        if not key or len(key) > MAX_NAME:
            return f"payload: a field name has 1 to {MAX_NAME} characters"
        if not isinstance(kind, str) or kind not in SCHEMA_TYPES:
            allowed = ", ".join(sorted(SCHEMA_TYPES))
            shown = kind if isinstance(kind, str) else type(kind).__name__
            return f"payload.{key}: unknown type {shown!r} (one of: {allowed})"
    return None


def patterns_problem(patterns: Any, what: str) -> str | None:
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        return f"permissions.{what} must be a list of message names or patterns"
    if len(patterns) > MAX_PATTERNS:
        return f"permissions.{what} has {len(patterns)} entries, at most {MAX_PATTERNS}"
    for pattern in patterns:
        problem = event_name_problem(pattern)
        if problem:
            return f"permissions.{what}: {problem}"
    return None


def key_name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "name must be a non-empty string"
    if len(name) > MAX_NAME:
        return f"name has at most {MAX_NAME} characters"
    if not name.isprintable():
        return "name must not hold control characters"
    return None


def _refuse(problem: str | None) -> None:
    if problem:
        raise RegistryError(problem)


# ----------------------------------------------------------------- registry


class Registry:
    """What the API sees and changes: events (message names) and access keys."""

    def __init__(
        self, store: Store, broker: Broker, now_ms: Callable[[], int] | None = None
    ) -> None:
        self.catalog = Catalog(store)
        self.store = store
        self.broker = broker
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.events: dict[str, EventRecord] = {}  # by id
        self.keys: dict[str, KeyRecord] = {}  # by id
        self._specs: dict[str, ClientSpec] = {}  # SERVICE key id -> the live identity
        # a connected identity that is gone (deleted, or a new key pair): drop its connections
        self.on_revoked: Callable[[ClientSpec, str], None] = lambda spec, why: None

    def load(self, cfg: EngineConfig, label: str = "engine.toml") -> None:
        """Seed the database from ``cfg``, then read it into the live view."""
        self.catalog.seed(cfg, self.now_ms(), label)
        self.events = {e.id: e for e in self.catalog.events()}
        self.keys = {k.id: k for k in self.catalog.access_keys()}
        self._specs = {k.id: _spec(k) for k in self.keys.values() if k.type == SERVICE}
        messages = [MessageSpec(e.name, e.schema) for e in self.events.values()]
        self.broker.reset_view(list(self._specs.values()), messages)

    # ------------------------------------------------------------------ reads

    @property
    def client_count(self) -> int:
        return len(self._specs)

    def event_named(self, name: str) -> EventRecord:
        for e in self.events.values():
            if e.name == name:
                return e
        raise NotFound(f"no message name {name!r}")

    def event(self, event_id: str) -> EventRecord:
        found = self.events.get(event_id)
        if found is None:
            raise NotFound(f"no message name with id {event_id!r}")
        return found

    def key(self, key_id: str) -> KeyRecord:
        found = self.keys.get(key_id)
        if found is None:
            raise NotFound(f"no access key with id {key_id!r}")
        return found

    def key_of(self, access_key: str) -> KeyRecord:
        found = self.find_key(access_key)
        if found is None:
            raise NotFound("no such access key")
        return found

    def find_key(self, access_key: str) -> KeyRecord | None:
        """The key record of ``access_key``, if any (every key compared in constant time)."""
        found = None
        given = access_key.encode()
        for k in self.keys.values():
            if hmac.compare_digest(k.access_key.encode(), given):
                found = k
        return found

    @property
    def has_accounts(self) -> bool:
        return any(k.type == ACCOUNT for k in self.keys.values())

    # ----------------------------------------------------------------- events

    def create_event(self, name: Any, schema: Any) -> EventRecord:
        _refuse(event_name_problem(name))
        if schema is not None:
            _refuse(schema_problem(schema))
        if any(e.name == name for e in self.events.values()):
            raise Conflict(f"message name {name!r} is already registered")
        now = self.now_ms()
        record = EventRecord(new_id(), name, _copy(schema), now, now)
        self._write(lambda: self.catalog.put_event(record))
        self.events[record.id] = record
        self.broker.set_message(MessageSpec(record.name, record.schema))
        log.info("management: registered %s", visible(name))
        return record

    def update_event(self, event_id: str, name: Any, schema: Any) -> EventRecord:
        """A new name and/or schema; None (or an empty schema) leaves that part as it is."""
        old = self.event(event_id)
        if name is not None:
            _refuse(event_name_problem(name))
        if schema is not None:
            _refuse(schema_problem(schema))
        new_name = old.name if name is None else name
        if new_name != old.name and any(e.name == new_name for e in self.events.values()):
            raise Conflict(f"message name {new_name!r} is already registered")
        new_schema = old.schema if not schema else _copy(schema)
        record = EventRecord(old.id, new_name, new_schema, old.created_at, self.now_ms())
        self._write(lambda: self.catalog.put_event(record))
        self.events[record.id] = record
        if new_name != old.name:
            self.broker.drop_message(old.name)
        self.broker.set_message(MessageSpec(record.name, record.schema))
        log.info("management: updated message name %s", visible(new_name))
        return record

    # ------------------------------------------------------------------- keys

    def create_key(
        self, kind: Any, name: Any, send: Any, receive: Any
    ) -> tuple[KeyRecord, str | None]:
        """A new key and, for a SERVICE key, its secret key (shown once, kept nowhere)."""
        if kind not in KEY_TYPES:
            raise RegistryError(f"type must be SERVICE or ACCOUNT, not {_short(kind)!r}")
        _refuse(key_name_problem(name))
        _refuse(patterns_problem(send, "send"))
        _refuse(patterns_problem(receive, "receive"))
        if any(k.name == name for k in self.keys.values()):
            raise Conflict(f"an access key named {name!r} exists already")
        public = secret = None
        if kind == SERVICE:
            public, secret = generate_keypair()
        else:
            send = receive = []
        record = KeyRecord(
            new_id(), new_access_key(), name, kind, self.now_ms(), public, list(send), list(receive)
        )
        self._write(lambda: self.catalog.put_key(record))
        self.keys[record.id] = record
        if kind == SERVICE:
            spec = self._specs[record.id] = _spec(record)
            self.broker.set_client(spec)
        log.info("management: created %s key %s", kind, visible(name))
        return record, secret

    def delete_key(self, key_id: str) -> KeyRecord:
        record = self.key(key_id)
        if record.type == ACCOUNT and sum(k.type == ACCOUNT for k in self.keys.values()) == 1:
            raise Conflict("the last account key cannot be deleted: the API would lock itself out")
        self._write(lambda: self.catalog.delete_key(record.id))
        del self.keys[record.id]
        spec = self._specs.pop(record.id, None)
        if spec is not None:
            self.broker.drop_client(spec)
            self.on_revoked(spec, "access key deleted")
        log.info("management: deleted %s key %s", record.type, visible(record.name))
        return record

    def set_permissions(self, access_key: str, send: Any, receive: Any) -> KeyRecord:
        record = self.key_of(access_key)
        if record.type != SERVICE:
            raise RegistryError("an ACCOUNT key has no message permissions (SERVICE keys do)")
        _refuse(patterns_problem(send, "send"))
        _refuse(patterns_problem(receive, "receive"))
        changed = replace(record, send=list(send), receive=list(receive))
        self._write(lambda: self.catalog.put_key(changed))
        record.send, record.receive = changed.send, changed.receive
        spec = self._specs[record.id]
        spec.send, spec.receive = list(send), list(receive)  # in place: sessions hold it
        self.broker.permissions_changed()
        log.info("management: changed the permissions of %s", visible(record.name))
        return record

    def rotate(self, access_key: str) -> tuple[KeyRecord, str]:
        """A new key pair for a SERVICE key: its old public key addresses no one now."""
        record = self.key_of(access_key)
        if record.type != SERVICE:
            raise RegistryError("an ACCOUNT key has no key pair (SERVICE keys do)")
        public, secret = generate_keypair()
        changed = replace(record, public_key=public)
        self._write(lambda: self.catalog.put_key(changed))
        record.public_key = public
        old = self._specs[record.id]
        self.broker.drop_client(old)
        spec = self._specs[record.id] = _spec(record)
        self.broker.set_client(spec)
        self.on_revoked(old, "key pair rotated: connect again")
        log.info("management: new key pair for %s", visible(record.name))
        return record, secret

    # ---------------------------------------------------------------- helpers

    def _write(self, op: Callable[[], None]) -> None:
        try:
            with self.store.transaction():
                op()
        except sqlite3.IntegrityError as exc:  # the checks above make this rare
            raise Conflict(f"already taken: {exc}") from None


def _spec(record: KeyRecord) -> ClientSpec:
    assert record.public_key is not None
    return ClientSpec(
        record.name, record.access_key, record.public_key, list(record.send), list(record.receive)
    )


def _copy(schema: dict[str, str] | None) -> dict[str, str] | None:
    return None if not schema else dict(schema)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"
