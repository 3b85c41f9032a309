"""`ensync-tui replay NAME IDEM...`: stored messages by ID, decrypted, as NDJSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ensync_tui.cli.options import connected_settings
from ensync_tui.cli.output import message_line, warn
from ensync_tui.errors import UsageError, error_text


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "replay",
        parents=[conn],
        help="print stored messages by ID as NDJSON",
        description="Ask the engine for messages by ID and print each, decrypted, as one "
        "JSON object per line. A failing ID is reported on stderr and the others still "
        "run; the exit code is then 1.",
    )
    p.add_argument("name", metavar="NAME", help="message name")
    p.add_argument("idems", nargs="+", metavar="IDEM", help="message IDs")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.cli.running import run as run_async

    settings = connected_settings(args)
    if not args.name.strip() or not all(idem.strip() for idem in args.idems):
        raise UsageError("replay: a message name or idem cannot be empty")
    return run_async(lambda: _replay(settings, args.name, args.idems))


async def _replay(settings: Any, name: str, idems: list[str]) -> int:
    from ensync_tui.cli.running import connect
    from ensync_tui.client import EnSyncError

    failed = 0
    async with connect(settings) as client:
        me = client.get_client_public_key()
        for idem in idems:
            try:
                message = await client.replay(name, idem)
            except EnSyncError as exc:
                if exc.error_type in ("EnSyncConnectionError", "EnSyncAuthError"):
                    raise
                warn(f"error: replay {idem}: {error_text(exc)}")
                failed += 1
                continue
            line, unshown = message_line(message)  # never raises, whatever it holds
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            if message.get("decryptError"):
                hint = ""
                if message.get("sender") == me:
                    hint = " (this identity sent it: it is encrypted for its recipients only)"
                warn(f"error: replay {idem}: {message['decryptError']}{hint}")
                failed += 1
            elif unshown:
                warn(f"error: replay {idem}: {unshown}")
                failed += 1
    return 1 if failed else 0
