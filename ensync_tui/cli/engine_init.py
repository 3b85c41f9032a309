"""`ensync-tui engine init DIR`: an engine.toml and client profiles with fresh keys,
and with --tls a local CA and a server certificate, so that serve speaks wss://."""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

from ensync_tui.cli import engine_api
from ensync_tui.cli.certs import write_file, write_local_tls
from ensync_tui.cli.options import port_number
from ensync_tui.cli.output import counted
from ensync_tui.config import LOCAL_FILE as PROFILE_FILE
from ensync_tui.errors import CommandError, ConfigError, UsageError

ENGINE_FILE = "engine.toml"  # what `serve` reads by default
TLS_DIR = "tls"  # --tls: ca.pem, server.pem, server-key.pem
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SEND = RECEIVE = ["*"]  # what each identity written may publish and receive


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    engine = sub.add_parser(
        "engine",
        help="set up the local engine; manage names and keys",
        description="Set up a local engine (init), or manage message names and access keys "
        "through the management API of the local engine or EnSync's.",
    )
    engine.set_defaults(handler=lambda args: _usage(engine))
    engine_sub = engine.add_subparsers(dest="engine_command", metavar="COMMAND")
    engine_api.add_parsers(engine_sub, conn)
    init = engine_sub.add_parser(
        "init",
        help="write engine.toml and client profiles with fresh keys",
        description="Write DIR/engine.toml (identities, message names and an account key for "
        "the management API; no secret keys) and "
        f"DIR/{PROFILE_FILE} (one client profile per identity, with its secret key).",
    )
    init.add_argument("dir", metavar="DIR", help="folder to write into (created if missing)")
    init.add_argument(
        "--clients",
        default="alice,bob",
        metavar="A,B,...",
        help="identity names (default: alice,bob)",
    )
    init.add_argument(
        "--messages",
        default="orders/created,orders/status",
        metavar="N1,N2,...",
        help="message names to register (default: orders/created,orders/status)",
    )
    init.add_argument("--port", type=port_number, default=8082, help="engine port (default 8082)")
    init.add_argument(
        "--tls",
        action="store_true",
        help=f"serve wss://: make a local CA and a server certificate in DIR/{TLS_DIR}/ "
        "(for 127.0.0.1, ::1 and localhost) and let the profiles trust the CA",
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(handler=run)


def _usage(parser: argparse.ArgumentParser) -> int:
    raise UsageError(
        "engine: choose a command: init, names, add-name, keys, add-key"
        " (see `ensync-tui engine --help`)"
    )


def _toml(value: Any) -> str:
    """A TOML value: strings, lists of strings, numbers."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _split_names(text: str, what: str, check: re.Pattern[str] | None) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"--{what}: give at least one name")
    if len(set(names)) != len(names):
        raise UsageError(f"--{what}: a name is given twice")
    for name in names:
        if check is not None and not check.match(name):
            raise UsageError(
                f"--{what}: {name!r} must be letters, digits, '_', '.' or '-' (64 at most)"
            )
    return names


ACCOUNT_NAME = "admin"  # the account engine init writes, for the management API


def api_url(port: int, tls: bool) -> str:
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}/api/v1/ensync"


def engine_toml(
    identities: list[Any],
    messages: list[str],
    port: int,
    tls: bool = False,
    account_key: str = "",
) -> str:
    lines = [
        "# Local EnSync engine: ensync-tui serve --config engine.toml",
        "# No secret keys here: clients keep theirs (see ensync.toml). The access keys",
        "# let anyone connect as these identities: keep this file private too.",
        "",
        "[engine]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'db = "ensync.db"        # relative to this file; ":memory:" keeps nothing',
        "ping_interval = 30",
        "conn_timeout = 5        # seconds a new connection has to send CONN",
        "max_connections = 1000  # open at once; more are refused (HTTP 503)",
        "outbox_mib = 8          # what may wait to be sent to one connection",
        "max_in_flight = 1       # records delivered and unanswered per subscription",
        "ack_wait = 30           # seconds before an unanswered record is delivered again",
        "sub_grace = 0.1         # seconds between answering SUB and the first push",
    ]
    if tls:
        lines += [
            f'tls_cert = "{TLS_DIR}/server.pem"    # wss://, signed by {TLS_DIR}/ca.pem',
            f'tls_key = "{TLS_DIR}/server-key.pem"',
        ]
    for ident in identities:
        lines += [
            "",
            "[[clients]]",
            f"name = {_toml(ident.name)}",
            f"access_key = {_toml(ident.access_key)}",
            f"public_key = {_toml(ident.public_key)}",
            f"send = {_toml(SEND)}            # exact names or shell-style patterns, e.g. "
            '"orders/*"',
            f"receive = {_toml(RECEIVE)}",
        ]
    for name in messages:
        lines += ["", "[[messages]]", f"name = {_toml(name)}"]
    lines += ['# schema = { order_id = "string", status = "string" }   # optional, per message']
    if account_key:
        lines += [
            "",
            f"# the management API ({api_url(port, tls)}): names, schemas, keys",
            "[[accounts]]",
            f"name = {_toml(ACCOUNT_NAME)}",
            f"access_key = {_toml(account_key)}",
        ]
    lines += [
        "",
        "# engine.toml seeds the engine's database: an entry edited here wins at the next",
        "# start over what the management API did to it; an unchanged entry leaves the API's",
        "",
    ]
    return "\n".join(lines)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml(name)


def receivable(messages: list[str]) -> list[str]:
    """The message names an identity written here may receive (its profile subscribes)."""
    return [m for m in messages if any(fnmatch.fnmatchcase(m, p) for p in RECEIVE)]


def profiles_toml(
    identities: list[Any],
    messages: list[str],
    url: str,
    ca_file: str | None = None,
    account_key: str = "",
) -> str:
    lines = [
        "# Client profiles for the local engine. Secret keys: keep this file private.",
        f"default_profile = {_toml(identities[0].name)}",
    ]
    for ident in identities:
        key = _key(ident.name)
        lines += [
            "",
            f"[profiles.{key}]",
            f"url = {_toml(url)}",
            *([f"ca_file = {_toml(ca_file)}   # the local CA: wss:// verified"] if ca_file else []),
            f"access_key = {_toml(ident.access_key)}",
            f"app_secret_key = {_toml(ident.secret_key)}",
            *(
                [f"account_key = {_toml(account_key)}   # the management API: names, schemas"]
                if account_key
                else []
            ),
            f"message_names = {_toml(messages)}",
            f"subscribe = {_toml(receivable(messages))}   # the names it may receive",
            "",
            f"[profiles.{key}.contacts]",
        ]
        lines += [
            f"{_key(other.name)} = {_toml(other.public_key)}"
            for other in identities
            if other is not ident
        ]
    lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.engine.config import parse_config
    from ensync_tui.engine.sandbox import make_identities, new_access_key

    names = _split_names(args.clients, "clients", _NAME)
    messages = _split_names(args.messages, "messages", None)
    folder = Path(args.dir)
    engine_path, profile_path = folder / ENGINE_FILE, folder / PROFILE_FILE
    tls_files = [folder / TLS_DIR / n for n in ("ca.pem", "server.pem", "server-key.pem")]
    if not args.force:
        for p in (engine_path, profile_path, *(tls_files if args.tls else [])):
            if p.exists():
                raise CommandError(f"{p} already exists (use --force to overwrite)")
    identities = list(make_identities(names).values())
    url = f"{'wss' if args.tls else 'ws'}://127.0.0.1:{args.port}"
    account_key = new_access_key()
    engine_text = engine_toml(identities, messages, args.port, args.tls, account_key)
    try:
        parse_config(engine_text, ENGINE_FILE, folder)  # what we write must load
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    ca_file = f"{TLS_DIR}/ca.pem" if args.tls else None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tls = write_local_tls(folder / TLS_DIR) if args.tls else None
        write_file(engine_path, engine_text.encode(), 0o600)  # access keys
        write_file(
            profile_path,
            profiles_toml(identities, messages, url, ca_file, account_key).encode(),
            0o600,
        )
    except OSError as exc:
        raise CommandError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    first = identities[0].name
    if tls:
        print(
            f"wrote {tls.ca} (a local CA: the profiles trust it; its key is not kept) and "
            f"{tls.cert} with its key (mode 0600), for 127.0.0.1, ::1 and localhost, "
            f"valid until {tls.expires.isoformat()}"
        )
    print(
        f"wrote {engine_path} ({counted(len(identities), 'identity')}, "
        f"{counted(len(messages), 'message name')}; access keys inside, mode 0600"
        f"{'; serves wss://' if tls else ''})"
    )
    print(f"wrote {profile_path} (client profiles with secret keys, mode 0600: keep it private)")
    print()
    print("start the engine:")
    print(f"  ensync-tui serve --config {engine_path}")
    print(f"connect as {first} (identities: {', '.join(names)}):")
    print(f"  ensync-tui --config {profile_path} --profile {first}")
    print(
        f"manage names, schemas and keys (the management API at {api_url(args.port, args.tls)};"
        f" its account key is [[accounts]] {ACCOUNT_NAME!r} in {engine_path} and account_key"
        " in the profiles):"
    )
    print(f"  ensync-tui engine names --config {profile_path}")
    return 0
