"""The `ensync-tui` command. Nothing heavy is imported until a command runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments: reported on stderr in one line, exit code 2."""


class CommandError(Exception):
    """A failure at run time: reported on stderr in one line, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    from ensync_tui import __version__
    from ensync_tui.engine.commands import add_commands as add_engine_commands

    parser = argparse.ArgumentParser(
        prog="ensync-tui",
        description="Explore, debug and replay EnSync message flows in the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"ensync-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_engine_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"ensync-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"ensync-tui: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
