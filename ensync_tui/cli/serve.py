"""`ensync-tui serve`: the local EnSync engine in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from pathlib import Path
from typing import Any

from ensync_tui.cli.engine_init import ENGINE_FILE as DEFAULT_CONFIG
from ensync_tui.cli.options import int_in, port_number, positive_int, seconds, seconds_in
from ensync_tui.cli.output import counted
from ensync_tui.errors import CommandError, ConfigError, UsageError


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
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
        "--ping-interval", type=seconds, metavar="S", help="seconds between PINGs (default 30)"
    )
    serve.add_argument(
        "--conn-timeout",
        type=seconds,
        metavar="S",
        help="seconds a new connection has to send CONN (default 5)",
    )
    serve.add_argument(
        "--max-connections",
        type=positive_int,
        metavar="N",
        help="connections open at once; more are refused (default 1000)",
    )
    serve.add_argument(
        "--outbox-mib",
        type=positive_int,
        metavar="MIB",
        help="what may wait to be sent to one connection before the engine stops "
        "reading from it (default 8)",
    )
    serve.add_argument(
        "--max-in-flight",
        type=int_in(1, 1_000_000),
        metavar="N",
        help="records delivered and unanswered per subscription (default 1, as EnSync; "
        "more is for load tests)",
    )
    serve.add_argument(
        "--ack-wait",
        type=seconds,
        metavar="S",
        help="seconds before an unanswered record is delivered again (default 30)",
    )
    serve.add_argument(
        "--sub-grace",
        type=seconds_in(10, zero=True),
        metavar="S",
        help="seconds between answering SUB and the first push (default 0.1)",
    )
    serve.set_defaults(handler=run)


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
    "max_in_flight",
    "ack_wait",
    "sub_grace",
)


def _serve_config(args: argparse.Namespace) -> Any:
    from ensync_tui.engine.config import load_config

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
            value = getattr(args, key, None)
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
    if not cfg.clients and not cfg.accounts:
        raise UsageError(
            f"{Path(path).name}: no identities ([[clients]]) and no account keys ([[accounts]])"
        )
    return cfg


def run(args: argparse.Namespace) -> int:
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
        label = Path(getattr(args, "config", None) or DEFAULT_CONFIG).name
        return asyncio.run(_serve(cfg, label))
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


async def _serve(cfg: Any, label: str) -> int:
    from ensync_tui.engine.server import EngineServer
    from ensync_tui.engine.store import StoreError, StoreInUse

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
            pass
    server = EngineServer(cfg, label)
    try:
        await server.start()
    except StoreInUse as exc:
        raise CommandError(f"{exc} (stop it, or pass --db)") from None
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    assert server.broker is not None
    clients = sorted(c.name for c in server.broker.by_access_key.values())
    names = ", ".join(clients)
    where = f"{server.url}/message"
    if cfg.host in ("", "0.0.0.0", "::"):
        where += f" and every other interface on port {server.port}"
    window = ""
    if cfg.max_in_flight > 1:
        window = (
            f"; up to {cfg.max_in_flight} records in flight per subscription, "
            "a load-test setting (EnSync pushes one at a time)"
        )
    print(
        f"EnSync engine on {where} ({counted(len(clients), 'client')}: {names}; "
        f"{counted(len(server.broker.messages), 'message name')}; db {cfg.db}{window}); "
        f"management API on {server.api_url}. Ctrl+C stops it.",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        print("stopping…", file=sys.stderr, flush=True)
        await server.stop()
    return 0
