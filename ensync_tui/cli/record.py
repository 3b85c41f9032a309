"""``--record FILE`` (the explorer and ``tail``): the recording the command appends to."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ensync_tui.errors import CommandError

if TYPE_CHECKING:
    from ensync_tui.recording.writer import Recorder
    from ensync_tui.settings import Settings

HELP = (
    "append everything received (records as they came, encrypted), every ack, defer, "
    "discard and replay, and what is published, to FILE as NDJSON (mode 0600); "
    "`ensync-tui open FILE` explores it"
)


def add_option(group: Any) -> None:
    group.add_argument("--record", metavar="FILE", help=HELP, default=argparse.SUPPRESS)


def open_recorder(args: argparse.Namespace, settings: Settings) -> Recorder | None:
    """The recorder ``--record`` asks for (None without it); CommandError if it cannot open."""
    path = getattr(args, "record", None)
    if not path:
        return None
    return recorder_for(path, settings)


def recorder_for(path: str, settings: Settings) -> Recorder:
    from ensync_tui.protocol import crypto
    from ensync_tui.recording.writer import Recorder

    identity = ""
    if settings.app_secret_key:
        try:
            identity = crypto.public_key_of(settings.app_secret_key)
        except Exception:
            identity = ""
    try:
        return Recorder(
            path, url=settings.url or "", identity=identity, secret_key=settings.app_secret_key
        )
    except OSError as exc:
        raise CommandError(f"cannot record to {path}: {exc.strerror or exc}") from None
