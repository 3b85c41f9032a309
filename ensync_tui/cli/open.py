"""`ensync-tui open FILE`: explore a recording, an NDJSON export or `tail` output,
with everything that does not need the engine. Payloads are decrypted with the
active profile's key or `--app-secret-key`."""

from __future__ import annotations

import argparse
from typing import Any

from ensync_tui.cli.options import settings_from
from ensync_tui.errors import CommandError


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "open",
        parents=[conn],
        help="explore a recording, an NDJSON export or tail output (no engine needed)",
        description="Explore FILE (written by --record, the explorer's export or tail) "
        "in the explorer: the stream, the inspector with all its tabs, filters, Changes "
        "and export. Actions that need the engine (ack, defer, discard, pause, subscribe, "
        "replay, publish) are off. Payloads are decrypted with the active profile's app "
        "secret key or --app-secret-key; the file is read a row at a time, as it is shown.",
    )
    p.add_argument("file", metavar="FILE", help="the file to explore")
    p.set_defaults(handler=run)


def open_index(path: str) -> Any:
    from ensync_tui.recording.index import Index

    try:
        return Index(path)
    except OSError as exc:
        raise CommandError(f"cannot open {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    index = open_index(args.file)
    try:
        try:
            from ensync_tui.app import run_app
        except ImportError as exc:
            raise CommandError(f"the terminal UI cannot start: {exc}") from None
        return int(run_app(settings, recording=index) or 0)
    finally:
        index.close()
