"""`ensync-tui tail NAME...`: delivered messages, decrypted, as NDJSON on stdout."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ensync_tui.cli import positive_int


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tail",
        parents=[conn],
        help="print delivered messages as NDJSON",
        description="Subscribe to message names and print each delivered message as one "
        "JSON object per line: messageName, idem, block, timestamp, sender, metadata, "
        "payload, decryptError. Each message is acknowledged once printed.",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="message names to subscribe to")
    p.add_argument(
        "--manual-ack",
        action="store_true",
        help="do not acknowledge: messages stay pending and are delivered again later",
    )
    p.add_argument("--count", type=positive_int, metavar="N", help="exit after N messages")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.commands.common import connected_settings
    from ensync_tui.commands.common import run as run_async

    settings = connected_settings(args)
    names = list(dict.fromkeys(args.names))
    return run_async(lambda: _tail(settings, names, args.manual_ack, args.count))


async def _tail(settings: Any, names: list[str], manual_ack: bool, count: int | None) -> int:
    from ensync_tui.commands.common import connect, error_text, print_json, record_json, warn

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    decrypt_errors = 0
    async with connect(settings, reconnect=True) as client:
        watcher = asyncio.create_task(_watch(client))
        try:
            subs = {}
            for name in names:
                sub = client.subscribe(name, auto_ack=False)
                sub.handler(queue.put_nowait)
                await sub
                subs[name] = sub
            seen = 0
            while count is None or seen < count:
                message = await queue.get()
                print_json(record_json(message))
                seen += 1
                if message.get("decryptError"):
                    decrypt_errors += 1
                    warn(f"error: decrypt {message['idem']}: {message['decryptError']}")
                if not manual_ack:
                    try:
                        await subs[message["messageName"]].ack(message["idem"], message["block"])
                    except Exception as exc:  # keep tailing; say why
                        warn(f"error: ack {message['idem']}: {error_text(exc)}")
        finally:
            watcher.cancel()
    return 1 if decrypt_errors else 0


async def _watch(client: Any) -> None:
    """Say on stderr when the connection drops and comes back."""
    from ensync_tui.commands.common import warn

    dropped = False
    async for state in client.state_changes():
        if state.status == "reconnecting":
            dropped = True
            reason = f": {state.reason}" if state.reason else ""
            warn(f"connection lost{reason}; reconnecting (attempt {state.attempt})")
        elif state.status == "connected" and dropped:
            dropped = False
            warn("reconnected")
