"""The `ensync-tui` command. Nothing heavy is imported until a command runs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ensync_tui.cli import (
    bench,
    config,
    engine_init,
    explorer,
    keygen,
    publish,
    replay,
    serve,
    tail,
    web,
)
from ensync_tui.cli import open as open_file
from ensync_tui.cli.logs import setup_logging
from ensync_tui.cli.options import Parser, connection_options
from ensync_tui.cli.output import keep_secret, secrets, shown
from ensync_tui.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    UsageError,
)

COMMANDS = (tail, publish, replay, keygen, bench, config, serve, engine_init, open_file, web)


def build_parser() -> argparse.ArgumentParser:
    from ensync_tui import __version__

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
    explorer.add_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub, conn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:
        return crashed(exc, "start")
    return run_handler(args)


def crashed(exc: BaseException, command: str) -> int:
    """An unexpected failure: a redacted crash report, and one line saying where it is."""
    from ensync_tui.crashlog import write_crash_log

    path = write_crash_log(exc, secrets, what=f"ensync-tui {command}")
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
        getattr(args, "account_key", None),
        os.environ.get("ENSYNC_ACCESS_KEY"),
        os.environ.get("ENSYNC_APP_SECRET_KEY"),
        os.environ.get("ENSYNC_ACCOUNT_KEY"),
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


def _quiet_stdout() -> None:
    """After a broken pipe (e.g. `| head`), stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
