"""`ensync-tui open FILE`: explore a recording, an NDJSON export or `tail` output,
with everything that does not need the engine. Payloads are decrypted with the
active profile's key or `--app-secret-key`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ensync_tui.cli.options import settings_from
from ensync_tui.errors import CommandError, UsageError

if TYPE_CHECKING:
    from ensync_tui.settings import Settings


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
    p.add_argument(
        "--where",
        metavar="EXPR",
        help="print the records the explorer's filter EXPR keeps, as NDJSON (the shape "
        "`tail` prints, plus each one's state), without starting the UI",
    )
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
    if args.where is not None:
        try:
            return print_where(index, args.where, settings)
        finally:
            index.close()
    try:
        try:
            from ensync_tui.app import run_app
        except ImportError as exc:
            raise CommandError(f"the terminal UI cannot start: {exc}") from None
        return int(run_app(settings, recording=index) or 0)
    finally:
        index.close()


def print_where(index: Any, expr: str, settings: Settings) -> int:
    """Every record of the file that filter ``expr`` keeps, one NDJSON line each,
    read and decrypted a row at a time. ``sender:`` knows the profile's contacts and
    ``self``, as in the explorer."""
    import sys

    from ensync_tui.app.export import entry_line
    from ensync_tui.app.recorded import FileHistory
    from ensync_tui.protocol import crypto

    secret_key = settings.app_secret_key
    self_key = ""
    if secret_key:
        try:
            self_key = crypto.public_key_of(secret_key)
        except Exception:  # a key that does not read decrypts nothing: each row says so
            self_key = ""
    history = FileHistory(index, secret_key)
    try:
        history.set_filter(text=expr, contacts=dict(settings.contacts), self_key=self_key)
    except ValueError as exc:  # the filter does not read
        raise UsageError(f"--where: {exc}") from None
    wanted = history.filter
    out = sys.stdout
    row = 0
    try:
        while True:
            try:
                index.build()
            except OSError as exc:
                raise CommandError(f"cannot read {index.path}: {exc.strerror or exc}") from None
            while row < len(index):
                entry = history.entry(row, keep=False)
                row += 1
                if wanted.matches(entry, secret_key):
                    out.write(entry_line(entry, secret_key) + "\n")
            if index.done:
                break
        out.flush()
    except BrokenPipeError:  # the reader stopped (| head): not a failure
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return 0
