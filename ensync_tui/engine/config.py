"""The engine's configuration: identities, registered message names, limits.

``engine.toml``::

    [engine]                 # all optional
    host = "127.0.0.1"
    port = 8082
    db = "ensync.db"         # relative to the file's folder; ":memory:" for none
    ping_interval = 30
    conn_timeout = 5         # seconds a new connection has to send CONN
    max_connections = 1000   # open at once; more are refused (HTTP 503)
    outbox_mib = 8           # what may wait to be sent to one connection
    max_in_flight = 1        # records delivered and unanswered per subscription
    ack_wait = 30            # seconds before an unanswered record is delivered again
    sub_grace = 0.1          # seconds between answering SUB and the first push

    [[clients]]
    name = "orders-service"
    access_key = "..."
    public_key = "<base64 Ed25519 public key>"
    send = ["orders/*"]
    receive = ["*"]

    [[messages]]
    name = "orders/status"
    schema = { order_id = "string", status = "string" }

    [[accounts]]             # keys for the management API (/api/v1/ensync)
    name = "admin"
    access_key = "..."

engine.toml seeds the engine's database, which the management API changes (see
registry.py for which wins when both name the same thing).

Every error names the file and the key, e.g.
``engine.toml: clients[1].public_key: not a 32-byte base64 key``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensync_tui.errors import ConfigError
from ensync_tui.protocol.limits import MAX_FRAME, MAX_PAYLOAD
from ensync_tui.protocol.schema import SCHEMA_TYPES

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
CONN_TIMEOUT = 5.0
MAX_CONNECTIONS = 1000
OUTBOX_MIB = 8
MAX_IN_FLIGHT = 1  # EnSync's need-based push: one record at a time per subscription
ACK_WAIT = 30.0
SUB_GRACE = 0.1


@dataclass(slots=True)
class ClientSpec:
    """One identity the engine knows: who it is and what it may send and receive."""

    name: str
    access_key: str
    public_key: str
    send: list[str] = field(default_factory=lambda: ["*"])
    receive: list[str] = field(default_factory=lambda: ["*"])

    def may_send(self, message_name: str) -> bool:
        return matches(message_name, self.send)

    def may_receive(self, message_name: str) -> bool:
        return matches(message_name, self.receive)

    def __repr__(self) -> str:  # never show the access key
        return f"ClientSpec(name={self.name!r}, public_key={self.public_key!r})"


@dataclass(slots=True)
class AccountSpec:
    """An account key: it manages the engine through the HTTP API, it does not connect."""

    name: str
    access_key: str

    def __repr__(self) -> str:  # never show the access key
        return f"AccountSpec(name={self.name!r})"


@dataclass(slots=True)
class MessageSpec:
    """A registered message name, optionally with a schema ``{field: type}``."""

    name: str
    schema: dict[str, str] | None = None


@dataclass(slots=True)
class EngineConfig:
    clients: list[ClientSpec] = field(default_factory=list)
    messages: list[MessageSpec] = field(default_factory=list)
    accounts: list[AccountSpec] = field(default_factory=list)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: str = ":memory:"
    ping_interval: float = 30.0
    tls_cert: str | None = None
    tls_key: str | None = None
    max_frame: int = MAX_FRAME
    max_payload: int = MAX_PAYLOAD
    conn_timeout: float = CONN_TIMEOUT  # seconds from connect to a valid CONN
    max_connections: int = MAX_CONNECTIONS
    outbox_mib: float = OUTBOX_MIB  # per connection: stop reading and delivering beyond it
    max_in_flight: int = MAX_IN_FLIGHT  # per subscription: delivered and not answered
    ack_wait: float = ACK_WAIT  # seconds until an unanswered record goes out again
    sub_grace: float = SUB_GRACE  # seconds from a SUB answer to the first push
    clock: Callable[[], float] | None = None  # wall clock in seconds; None = time.time

    def check(self, label: str = "config") -> None:
        """Raise ConfigError for duplicates and bad values (also for configs built in code)."""
        seen_names: set[str] = set()
        seen_keys: set[str] = set()
        seen_public: set[str] = set()
        for i, client in enumerate(self.clients):
            at = f"{label}: clients[{i}]"
            _check_key(at, client.name, client.access_key, seen_names, seen_keys)
            if not is_public_key(client.public_key):
                raise ConfigError(f"{at}.public_key: not a 32-byte base64 key")
            if client.public_key in seen_public:
                raise ConfigError(f"{at}.public_key: the same public key is used twice")
            seen_public.add(client.public_key)
        for i, account in enumerate(self.accounts):
            _check_key(
                f"{label}: accounts[{i}]", account.name, account.access_key, seen_names, seen_keys
            )
        registered: set[str] = set()
        for i, message in enumerate(self.messages):
            at = f"{label}: messages[{i}]"
            if not message.name:
                raise ConfigError(f"{at}.name: must not be empty")
            if message.name in registered:
                raise ConfigError(f"{at}.name: {message.name!r} is registered twice")
            registered.add(message.name)
            for key, kind in (message.schema or {}).items():
                if kind not in SCHEMA_TYPES:
                    allowed = ", ".join(sorted(SCHEMA_TYPES))
                    raise ConfigError(
                        f"{at}.schema.{key}: unknown type {kind!r} (one of: {allowed})"
                    )
        if not 0 < self.ping_interval <= 86400:
            raise ConfigError(f"{label}: engine.ping_interval: must be 0 < seconds <= 86400")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{label}: engine.port: must be 0 to 65535")
        if not 0 < self.conn_timeout <= 3600:
            raise ConfigError(f"{label}: engine.conn_timeout: must be 0 < seconds <= 3600")
        if not 1 <= self.max_connections <= 1_000_000:
            raise ConfigError(f"{label}: engine.max_connections: must be 1 to 1000000")
        if not 1 <= self.outbox_mib <= 1024:
            raise ConfigError(f"{label}: engine.outbox_mib: must be 1 to 1024")
        if not 1 <= self.max_in_flight <= 1_000_000:
            raise ConfigError(f"{label}: engine.max_in_flight: must be 1 to 1000000")
        if not 0 < self.ack_wait <= 86400:
            raise ConfigError(f"{label}: engine.ack_wait: must be 0 < seconds <= 86400")
        if not 0 <= self.sub_grace <= 10:
            raise ConfigError(f"{label}: engine.sub_grace: must be 0 <= seconds <= 10")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError(f"{label}: TLS needs both a certificate and a key")


def matches(name: str, patterns: list[str]) -> bool:
    """True if ``name`` equals a pattern or matches it shell-style (``*`` = any)."""
    return any(p == "*" or p == name or fnmatch.fnmatchcase(name, p) for p in patterns)


def is_public_key(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


# ------------------------------------------------------------------ loading


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string")
    return value


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: must be a list of message names or patterns")
    return list(value)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table")
    return value


def _unknown(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown key (expected one of: {', '.join(allowed)})")


def _client(raw: Any, where: str) -> ClientSpec:
    table = _table(raw, where)
    _unknown(table, ("name", "access_key", "public_key", "send", "receive"), where)
    for key in ("name", "access_key", "public_key"):
        if key not in table:
            raise ConfigError(f"{where}.{key}: missing")
    public_key = table["public_key"]
    if not is_public_key(public_key):
        raise ConfigError(f"{where}.public_key: not a 32-byte base64 key")
    return ClientSpec(
        name=_text(table["name"], f"{where}.name"),
        access_key=_text(table["access_key"], f"{where}.access_key"),
        public_key=public_key,
        send=_names(table.get("send", ["*"]), f"{where}.send"),
        receive=_names(table.get("receive", ["*"]), f"{where}.receive"),
    )


def _account(raw: Any, where: str) -> AccountSpec:
    table = _table(raw, where)
    _unknown(table, ("name", "access_key"), where)
    for key in ("name", "access_key"):
        if key not in table:
            raise ConfigError(f"{where}.{key}: missing")
    return AccountSpec(
        name=_text(table["name"], f"{where}.name"),
        access_key=_text(table["access_key"], f"{where}.access_key"),
    )


def _message(raw: Any, where: str) -> MessageSpec:
    table = _table(raw, where)
    _unknown(table, ("name", "schema"), where)
    if "name" not in table:
        raise ConfigError(f"{where}.name: missing")
    name = _text(table["name"], f"{where}.name")
    schema = None
    if "schema" in table:
        schema = {}
        for key, kind in _table(table["schema"], f"{where}.schema").items():
            if not isinstance(kind, str) or kind not in SCHEMA_TYPES:
                allowed = ", ".join(sorted(SCHEMA_TYPES))
                raise ConfigError(
                    f"{where}.schema.{key}: unknown type {kind!r} (one of: {allowed})"
                )
            schema[key] = kind
    return MessageSpec(name, schema)


_ENGINE_KEYS = (
    "host",
    "port",
    "db",
    "ping_interval",
    "conn_timeout",
    "max_connections",
    "outbox_mib",
    "max_in_flight",
    "ack_wait",
    "sub_grace",
    "tls_cert",
    "tls_key",
)


def _number(value: Any, where: str, high: float, low: float = 0) -> float:
    """Seconds (0 < s <= high), or MiB when ``low`` is given (low <= n <= high)."""
    ok = not isinstance(value, bool) and isinstance(value, int | float)
    if not ok or not (value >= low if low else value > 0) or value > high:
        what = f"MiB, {low:g} <= n" if low else "seconds, 0 < s"
        raise ConfigError(f"{where}: must be {what} <= {high:g}")
    return float(value)


def _engine_section(raw: Any, where: str, base: Path, cfg: EngineConfig) -> None:
    table = _table(raw, where)
    _unknown(table, _ENGINE_KEYS, where)
    if "host" in table:
        cfg.host = _text(table["host"], f"{where}.host")
    if "port" in table:
        port = table["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"{where}.port: must be an integer 0 to 65535")
        cfg.port = port
    if "db" in table:
        db = _text(table["db"], f"{where}.db")
        cfg.db = db if db == ":memory:" else str(base / db)
    if "ping_interval" in table:
        cfg.ping_interval = _number(table["ping_interval"], f"{where}.ping_interval", 86400)
    if "conn_timeout" in table:
        cfg.conn_timeout = _number(table["conn_timeout"], f"{where}.conn_timeout", 3600)
    if "outbox_mib" in table:
        cfg.outbox_mib = _number(table["outbox_mib"], f"{where}.outbox_mib", 1024, low=1)
    if "ack_wait" in table:
        cfg.ack_wait = _number(table["ack_wait"], f"{where}.ack_wait", 86400)
    if "sub_grace" in table:
        grace = table["sub_grace"]
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace <= 10:
            raise ConfigError(f"{where}.sub_grace: must be seconds, 0 <= s <= 10")
        cfg.sub_grace = float(grace)
    for key in ("max_connections", "max_in_flight"):
        if key in table:
            cap = table[key]
            if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 1_000_000:
                raise ConfigError(f"{where}.{key}: must be an integer 1 to 1000000")
            setattr(cfg, key, cap)
    for key in ("tls_cert", "tls_key"):
        if key in table:
            setattr(cfg, key, str(base / _text(table[key], f"{where}.{key}")))


def parse_config(text: str, label: str, base: Path) -> EngineConfig:
    """Read engine.toml text; ``label`` names the file in errors, ``base`` anchors paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    for key in data:
        if key not in ("engine", "clients", "messages", "accounts"):
            raise ConfigError(
                f"{label}: {key}: unknown key (expected engine, clients, messages, accounts)"
            )
    cfg = EngineConfig(db=str(base / "ensync.db"))
    if "engine" in data:
        _engine_section(data["engine"], f"{label}: engine", base, cfg)
    clients = data.get("clients", [])
    if not isinstance(clients, list):
        raise ConfigError(f"{label}: clients: must be an array of tables ([[clients]])")
    cfg.clients = [_client(raw, f"{label}: clients[{i}]") for i, raw in enumerate(clients)]
    messages = data.get("messages", [])
    if not isinstance(messages, list):
        raise ConfigError(f"{label}: messages: must be an array of tables ([[messages]])")
    cfg.messages = [_message(raw, f"{label}: messages[{i}]") for i, raw in enumerate(messages)]
    accounts = data.get("accounts", [])
    if not isinstance(accounts, list):
        raise ConfigError(f"{label}: accounts: must be an array of tables ([[accounts]])")
    cfg.accounts = [_account(raw, f"{label}: accounts[{i}]") for i, raw in enumerate(accounts)]
    cfg.check(label)
    return cfg


def load_config(path: str | Path) -> EngineConfig:
    """Load and validate an engine.toml; errors name the file and the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    return parse_config(text, p.name, p.resolve().parent)


def _check_key(at: str, name: str, access_key: str, names: set[str], keys: set[str]) -> None:
    """A client's or an account's name and access key: present and unique among all keys."""
    if not name:
        raise ConfigError(f"{at}.name: must not be empty")
    if name in names:
        raise ConfigError(f"{at}.name: {name!r} is also the name of another key")
    if not access_key:
        raise ConfigError(f"{at}.access_key: must not be empty")
    if access_key in keys:
        raise ConfigError(f"{at}.access_key: the same access key is used twice")
    names.add(name)
    keys.add(access_key)
