"""The `ensync-tui` command. Nothing heavy is imported until a command runs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ensync_tui.settings import Settings

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130


_secrets: set[str] = set()  # access and secret keys this run knows: never shown


def keep_secret(*values: str | None) -> None:
    """Note secrets of this run: nothing printed, logged or saved shows them."""
    _secrets.update(v for v in values if v)


def shown(text: str) -> str:
    """``text`` as the terminal may show it: secrets redacted, control characters escaped."""
    from ensync_tui.crashlog import redact
    from ensync_tui.safetext import visible

    return visible(redact(text, _secrets))


def shown_json(text: str) -> str:
    """JSON text (pretty-printed or not) as the terminal may show it: secrets
    redacted, still valid JSON."""
    from ensync_tui.crashlog import redact
    from ensync_tui.safetext import json_visible

    return "\n".join(json_visible(redact(line, _secrets)) for line in text.split("\n"))


class UsageError(Exception):
    """Bad arguments: reported on stderr in one line, exit code 2."""


class CommandError(Exception):
    """A failure at run time: reported on stderr in one line, exit code 1."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_in(low: int, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (inclusive)."""
    if not what:
        if high is not None:
            what = f"a whole number from {low} to {high}"
        else:
            what = "a positive integer" if low == 1 else f"a whole number, {low} or more"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_int = int_in(1)
non_negative_int = int_in(0)
port_number = int_in(0, 65535, "a port number (0 to 65535)")


def connection_options() -> argparse.ArgumentParser:
    """The options every connecting command shares. Defaults are suppressed so
    that a value given before the subcommand is not overwritten after it."""
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("connection")
    g.add_argument("--url", metavar="URL", help="engine URL, e.g. wss://node.gms.ensync.cloud")
    g.add_argument("--access-key", metavar="KEY", help="access key of the identity")
    g.add_argument(
        "--app-secret-key",
        metavar="KEY",
        help="secret key used to decrypt (prefer ENSYNC_APP_SECRET_KEY or a profile: "
        "flags show in the process list)",
    )
    g.add_argument("--profile", metavar="NAME", help="profile from the config files")
    g.add_argument("--config", metavar="FILE", help="an extra profile file to read")
    g.add_argument("--ca-file", metavar="FILE", help="CA bundle to verify a wss:// engine")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    return p


def build_parser() -> argparse.ArgumentParser:
    from ensync_tui import __version__
    from ensync_tui.commands import add_commands
    from ensync_tui.engine.commands import add_commands as add_engine_commands

    conn = connection_options()
    parser = Parser(
        prog="ensync-tui",
        description="Explore, debug and replay EnSync message flows in the terminal. "
        "Without a command, starts the explorer.",
        parents=[conn],
    )
    parser.add_argument("--version", action="version", version=f"ensync-tui {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what the client and engine do to stderr"
    )
    ui = parser.add_argument_group("explorer")
    ui.add_argument(
        "--subscribe",
        metavar="NAME",
        nargs="+",
        action="extend",
        default=argparse.SUPPRESS,
        help="message names to subscribe to at start",
    )
    ui.add_argument(
        "--history",
        metavar="N",
        type=positive_int,
        default=argparse.SUPPRESS,
        help="how many messages to keep in memory",
    )
    ui.add_argument(
        "--auto-ack",
        action="store_true",
        default=argparse.SUPPRESS,
        help="acknowledge messages as they arrive",
    )
    ui.add_argument("--demo", action="store_true", help="explore live demo traffic (local engine)")
    ui.add_argument("--seed", type=non_negative_int, default=0, help="demo random seed")
    ui.add_argument(
        "--demo-rate",
        metavar="R",
        type=float,
        default=6.0,
        help="demo messages per second (default 6)",
    )
    parser.set_defaults(handler=run_explorer)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_commands(sub, conn)
    add_engine_commands(sub)
    return parser


def overrides_from(args: argparse.Namespace) -> Any:
    from ensync_tui.config import Overrides

    return Overrides(
        url=getattr(args, "url", None),
        access_key=getattr(args, "access_key", None),
        app_secret_key=getattr(args, "app_secret_key", None),
        profile=getattr(args, "profile", None),
        subscribe=getattr(args, "subscribe", None),
        ca_file=getattr(args, "ca_file", None),
        insecure=getattr(args, "insecure", None),
        history=getattr(args, "history", None),
        auto_ack=getattr(args, "auto_ack", None),
        config=getattr(args, "config", None),
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings resolved from flags, env and config files (raises ConfigError)."""
    from ensync_tui.config import resolve

    settings = resolve(overrides_from(args))
    keep_secret(settings.access_key, settings.app_secret_key)
    return settings


def run_explorer(args: argparse.Namespace) -> int:
    from ensync_tui.settings import Settings

    demo = None
    if args.demo:
        from ensync_tui.demo import Demo

        if args.demo_rate < 0:
            raise UsageError("--demo-rate: must be 0 or more")
        settings = Settings(history=getattr(args, "history", None) or Settings().history)
        demo = Demo(seed=args.seed, rate=args.demo_rate)
    else:
        settings = settings_from(args)
    try:
        from ensync_tui.app import run_app
    except ImportError as exc:
        raise CommandError(f"the terminal UI cannot start: {exc}") from None
    return int(run_app(settings, demo=demo) or 0)


def _quiet_stdout() -> None:
    """After a broken pipe (e.g. `| head`), stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:
        return crashed(exc, "start")
    return run_handler(args)


_handlers: list[Any] = []  # what setup_logging installed


def setup_logging(verbose: bool) -> None:
    """Our warnings stay quiet (errors are reported in one line) unless -v; what is
    logged goes out with secrets redacted and control characters escaped."""
    import logging

    from ensync_tui.safetext import visible

    class SafeFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            cached, record.exc_text = record.exc_text, None  # another handler's, unredacted
            try:
                return super().format(record)
            finally:
                record.exc_text = cached

        def formatMessage(self, record: logging.LogRecord) -> str:
            return shown(super().formatMessage(record))

        def formatException(self, ei: Any) -> str:
            if not verbose:  # one line a warning; tracebacks only with -v
                return ""
            from ensync_tui.crashlog import redact

            return visible(redact(super().formatException(ei), _secrets), layout=True)

    class StderrHandler(logging.StreamHandler):
        """Writes to whatever sys.stderr is at the time (the explorer swaps it)."""

        @property
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, value: Any) -> None:
            pass

    root, logger = logging.getLogger(), logging.getLogger("ensync_tui")
    for old in _handlers:  # run_handler may run more than once in a process (tests)
        root.removeHandler(old)
        logger.removeHandler(old)
    _handlers[:] = [StderrHandler()]
    if verbose:
        _handlers[0].setFormatter(SafeFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.setLevel(logging.DEBUG)
    else:  # ours are said by the commands; other libraries' warnings, made safe
        _handlers[0].setFormatter(SafeFormatter("ensync-tui: %(name)s: %(message)s"))
        _handlers[0].addFilter(lambda record: not record.name.startswith("ensync_tui"))
        _handlers.append(logging.NullHandler())
        logger.addHandler(_handlers[1])
    root.addHandler(_handlers[0])


def crashed(exc: BaseException, command: str) -> int:
    """An unexpected failure: a redacted crash report, and one line saying where it is."""
    from ensync_tui.crashlog import write_crash_log

    path = write_crash_log(exc, _secrets, what=f"ensync-tui {command}")
    where = f"crash report: {path}" if path else "no crash report could be written"
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(what) > 160:
        what = what[:159] + "…"
    print(
        shown(f"ensync-tui: error: {command} failed unexpectedly ({what}); {where}"),
        file=sys.stderr,
    )
    return EXIT_ERROR


def run_handler(args: argparse.Namespace) -> int:
    """Run the chosen command; every failure becomes one line on stderr."""
    keep_secret(
        getattr(args, "access_key", None),
        getattr(args, "app_secret_key", None),
        os.environ.get("ENSYNC_ACCESS_KEY"),
        os.environ.get("ENSYNC_APP_SECRET_KEY"),
    )
    setup_logging(getattr(args, "verbose", False))
    try:
        return int(args.handler(args) or 0)
    except UsageError as exc:
        print(shown(f"ensync-tui: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(shown(f"ensync-tui: error: {exc}"), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(shown(f"ensync-tui: error: {exc.code}"), file=sys.stderr)
            return EXIT_ERROR
        return exc.code or 0
    except Exception as exc:  # the last guard: one line and a crash report, never a traceback
        return crashed(exc, getattr(args, "command", None) or "explorer")
