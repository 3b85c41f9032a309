"""`serve` and `engine init` subcommands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from ensync_tui.cli import port_number

DEFAULT_CONFIG = "engine.toml"
PROFILE_FILE = "ensync.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def add_commands(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the local EnSync engine in the foreground",
        description="Run the local EnSync engine in the foreground (Ctrl+C stops it). "
        "Flags override the config file.",
    )
    serve.add_argument(
        "--config",
        dest="engine_config",
        metavar="FILE",
        help=f"engine config (default: ./{DEFAULT_CONFIG}; create one with `engine init`)",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, help="port to listen on (default 8082)")
    serve.add_argument("--db", metavar="PATH", help="SQLite file, or :memory:")
    serve.add_argument("--tls-cert", metavar="FILE", help="certificate: serve wss://")
    serve.add_argument("--tls-key", metavar="FILE", help="private key of --tls-cert")
    serve.add_argument(
        "--ping-interval", type=_seconds, metavar="S", help="seconds between PINGs (default 30)"
    )
    serve.add_argument(
        "--conn-timeout",
        type=_seconds,
        metavar="S",
        help="seconds a new connection has to send CONN (default 5)",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive,
        metavar="N",
        help="connections open at once; more are refused (default 1000)",
    )
    serve.add_argument(
        "--outbox-mib",
        type=_positive,
        metavar="MIB",
        help="what may wait to be sent to one connection before the engine stops "
        "reading from it (default 8)",
    )
    serve.set_defaults(handler=run_serve)

    engine = sub.add_parser(
        "engine", help="set up the local engine", description="Local engine setup."
    )
    engine.set_defaults(handler=lambda args: _usage(engine))
    engine_sub = engine.add_subparsers(dest="engine_command", metavar="COMMAND")
    init = engine_sub.add_parser(
        "init",
        help="write engine.toml and client profiles with fresh keys",
        description="Write DIR/engine.toml (identities and message names, no secrets) and "
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
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(handler=run_init)


def _usage(parser: argparse.ArgumentParser) -> int:
    from ensync_tui.cli import UsageError

    raise UsageError("engine: choose a command: init (see `ensync-tui engine --help`)")


def _count(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be seconds, got {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400, got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# ------------------------------------------------------------------- serve

_FLAGS = (
    "host",
    "port",
    "db",
    "tls_cert",
    "tls_key",
    "ping_interval",
    "conn_timeout",
    "max_connections",
    "outbox_mib",
)


def _serve_config(args: argparse.Namespace) -> Any:
    from ensync_tui.cli import UsageError
    from ensync_tui.engine.config import ConfigError, load_config

    path = args.engine_config
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            raise UsageError(
                f"no {DEFAULT_CONFIG} here: pass --config FILE, or create one with "
                "`ensync-tui engine init DIR`"
            )
        path = DEFAULT_CONFIG
    try:
        cfg = load_config(path)
        for key in _FLAGS:
            value = getattr(args, key)
            if value is not None:
                setattr(cfg, key, value)
        cfg.check(Path(path).name)
    except ConfigError as exc:
        text = str(exc)
        if re.search(r": (default_profile|profiles|keys): unknown key", text):
            text = (
                f"{Path(path).name}: this is a client profile file (for `ensync-tui --config`); "
                f"serve needs the {DEFAULT_CONFIG} `engine init` writes next to it"
            )
        raise UsageError(text) from None
    if not cfg.clients:
        raise UsageError(f"{Path(path).name}: clients: no identities configured")
    return cfg


def run_serve(args: argparse.Namespace) -> int:
    from ensync_tui.cli import CommandError
    from ensync_tui.engine.logs import RepeatFilter

    cfg = _serve_config(args)
    _check_tls(cfg)
    _raise_file_limit(cfg.max_connections)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    # what the loop and websockets report goes to the same place, and repeats
    # of any line are summarized there (the engine summarizes its own too)
    handler.addFilter(RepeatFilter())
    loggers = [logging.getLogger(n) for n in ("ensync_tui.engine", "asyncio", "websockets")]
    for log in loggers:
        log.addHandler(handler)
        log.propagate = False
    loggers[0].setLevel(logging.INFO)
    try:
        return asyncio.run(_serve(cfg))
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}"
        ) from None
    finally:
        for log in loggers:
            log.removeHandler(handler)
            log.propagate = True


def _raise_file_limit(connections: int) -> None:
    """Let the process open a file per connection and then some, if the hard limit allows."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + 256
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass  # the engine lowers its limit to what there is, and says so


def _check_tls(cfg: Any) -> None:
    """Load the certificate and key now, so a problem is named as one."""
    import ssl

    from ensync_tui.cli import CommandError

    if not (cfg.tls_cert and cfg.tls_key):
        return
    for what, path in (("certificate", cfg.tls_cert), ("key", cfg.tls_key)):
        if not Path(path).is_file():
            raise CommandError(f"TLS {what} not found: {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            cfg.tls_cert, cfg.tls_key
        )
    except ssl.SSLError as exc:
        raise CommandError(
            f"cannot load the TLS certificate {cfg.tls_cert} with key {cfg.tls_key}: "
            f"not a PEM certificate and its matching key ({exc.strerror or exc})"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(
            f"cannot load the TLS certificate {cfg.tls_cert} with key {cfg.tls_key}: {reason}"
        ) from None


async def _serve(cfg: Any) -> int:
    from ensync_tui.cli import CommandError
    from ensync_tui.engine.server import EngineServer
    from ensync_tui.engine.store import StoreError, StoreInUse

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
            pass
    server = EngineServer(cfg)
    try:
        await server.start()
    except StoreInUse as exc:
        raise CommandError(f"{exc} (stop it, or pass --db)") from None
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    names = ", ".join(c.name for c in cfg.clients)
    where = f"{server.url}/message"
    if cfg.host in ("", "0.0.0.0", "::"):
        where += f" and every other interface on port {server.port}"
    print(
        f"EnSync engine on {where} ({_count(len(cfg.clients), 'client')}: {names}; "
        f"{_count(len(cfg.messages), 'message name')}; db {cfg.db}). Ctrl+C stops it.",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        print("stopping…", file=sys.stderr, flush=True)
        await server.stop()
    return 0


# -------------------------------------------------------------------- init


def _toml(value: Any) -> str:
    """A TOML value: strings, lists of strings, numbers."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _split_names(text: str, what: str, check: re.Pattern[str] | None) -> list[str]:
    from ensync_tui.cli import UsageError

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


def engine_toml(identities: list[Any], messages: list[str], port: int) -> str:
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
    ]
    for ident in identities:
        lines += [
            "",
            "[[clients]]",
            f"name = {_toml(ident.name)}",
            f"access_key = {_toml(ident.access_key)}",
            f"public_key = {_toml(ident.public_key)}",
            'send = ["*"]            # exact names or shell-style patterns, e.g. "orders/*"',
            'receive = ["*"]',
        ]
    for name in messages:
        lines += ["", "[[messages]]", f"name = {_toml(name)}"]
    lines += [
        '# schema = { order_id = "string", status = "string" }   # optional, per message',
        "",
    ]
    return "\n".join(lines)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml(name)


def profiles_toml(identities: list[Any], messages: list[str], url: str) -> str:
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
            f"access_key = {_toml(ident.access_key)}",
            f"app_secret_key = {_toml(ident.secret_key)}",
            f"message_names = {_toml(messages)}",
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


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def run_init(args: argparse.Namespace) -> int:
    from ensync_tui.cli import CommandError
    from ensync_tui.engine.config import ConfigError, parse_config
    from ensync_tui.engine.sandbox import make_identities

    names = _split_names(args.clients, "clients", _NAME)
    messages = _split_names(args.messages, "messages", None)
    folder = Path(args.dir)
    engine_path, profile_path = folder / DEFAULT_CONFIG, folder / PROFILE_FILE
    if not args.force:
        for p in (engine_path, profile_path):
            if p.exists():
                raise CommandError(f"{p} already exists (use --force to overwrite)")
    identities = list(make_identities(names).values())
    url = f"ws://127.0.0.1:{args.port}"
    engine_text = engine_toml(identities, messages, args.port)
    try:
        parse_config(engine_text, DEFAULT_CONFIG, folder)  # what we write must load
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(engine_path, engine_text)  # access keys
        _write_private(profile_path, profiles_toml(identities, messages, url))
    except OSError as exc:
        raise CommandError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    first = identities[0].name
    print(
        f"wrote {engine_path} ({_count(len(identities), 'identity')}, "
        f"{_count(len(messages), 'message name')}; access keys inside, mode 0600)"
    )
    print(f"wrote {profile_path} (client profiles with secret keys, mode 0600: keep it private)")
    print()
    print("start the engine:")
    print(f"  ensync-tui serve --config {engine_path}")
    print(f"connect as {first} (identities: {', '.join(names)}):")
    print(f"  ensync-tui --config {profile_path} --profile {first}")
    return 0
