"""`ensync-tui tail NAME...`: delivered messages, decrypted, as NDJSON on stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ensync_tui.cli import record
from ensync_tui.cli.options import connected_settings, positive_int
from ensync_tui.cli.output import message_line, warn
from ensync_tui.errors import UsageError, error_text

MAX_ACKS_IN_FLIGHT = 256


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tail",
        parents=[conn],
        help="print delivered messages as NDJSON",
        description="Subscribe to message names and print each delivered message as one "
        "JSON object per line: messageName, idem, block, timestamp, sender, metadata, "
        "payload, decryptError. Each message is acknowledged once printed, except one "
        "that cannot be decrypted or shown as JSON (its line holds the envelope as "
        "rawPayload and the reason): it stays pending and the exit code is 1.",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="message names to subscribe to")
    p.add_argument(
        "--manual-ack",
        action="store_true",
        help="do not acknowledge: messages stay pending and are delivered again later",
    )
    p.add_argument("--count", type=positive_int, metavar="N", help="exit after N messages")
    record.add_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.cli.running import run as run_async

    settings = connected_settings(args)
    names = list(dict.fromkeys(name.strip() for name in args.names))
    if not all(names):
        raise UsageError("tail: a message name cannot be empty")
    recorder = record.open_recorder(args, settings)
    try:
        return run_async(lambda: _tail(settings, names, args.manual_ack, args.count, recorder))
    finally:
        if recorder is not None:
            recorder.close()


async def _tail(
    settings: Any, names: list[str], manual_ack: bool, count: int | None, recorder: Any = None
) -> int:
    from ensync_tui.cli.running import connect

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    decrypt_errors = 0
    if not settings.app_secret_key:
        warn(
            "no app secret key: payloads cannot be decrypted and are left unacknowledged "
            "(set ENSYNC_APP_SECRET_KEY or app_secret_key in the profile)"
        )
    # Acks are pipelined, a bounded number in flight, and each is sent only once
    # its line has been flushed out: a message is never acknowledged unprinted.
    acks: set[asyncio.Task[Any]] = set()
    printed: list[tuple[Any, str, Any]] = []  # (subscription, idem, block) not yet acked
    lost = [0]  # acks that went down with the connection, said once, not one by one

    def flush_and_ack() -> None:
        sys.stdout.flush()
        for sub, idem, block in printed:
            task = asyncio.create_task(_ack(sub, idem, block, lost, recorder))
            acks.add(task)
            task.add_done_callback(acks.discard)
        printed.clear()

    async with connect(settings, reconnect=True) as client:
        watcher = asyncio.create_task(_watch(client, lost, recorder))
        try:
            subs = {}
            for name in names:
                sub = client.subscribe(name, auto_ack=False)
                sub.handler(queue.put_nowait if recorder is None else _recording(queue, recorder))
                await sub
                subs[name] = sub
            seen = 0
            while count is None or seen < count:
                if queue.empty():
                    flush_and_ack()
                message = await queue.get()
                line, unshown = message_line(message)  # never raises, whatever it holds
                sys.stdout.write(line + "\n")
                seen += 1
                if message.get("decryptError") or unshown:
                    # left pending: the right key (or another consumer) can still read it
                    decrypt_errors += 1
                    what = "decrypt" if message.get("decryptError") else "show"
                    reason = message.get("decryptError") or unshown
                    warn(f"error: {what} {_short(message['idem'])}: {reason} (left unacknowledged)")
                    continue
                if not manual_ack:
                    printed.append(
                        (subs[message["messageName"]], message["idem"], message["block"])
                    )
                    if len(printed) + len(acks) >= MAX_ACKS_IN_FLIGHT:
                        flush_and_ack()
                        await asyncio.wait(acks, return_when=asyncio.FIRST_COMPLETED)
            flush_and_ack()
        finally:
            if acks:  # what was printed is acknowledged even on Ctrl+C or a closed pipe
                await asyncio.wait(acks, timeout=2)
            watcher.cancel()
            if lost[0]:
                warn(f"{_lost_acks(lost[0])}; they stay pending and are delivered again")
    return 1 if decrypt_errors else 0


async def _ack(sub: Any, idem: str, block: Any, lost: list[int], recorder: Any = None) -> None:
    from ensync_tui.client import EnSyncConnectionError, EnSyncTimeoutError

    try:
        await sub.ack(idem, block)
        if recorder is not None:
            recorder.state(sub.name, idem, "acked")
    except (EnSyncConnectionError, EnSyncTimeoutError):
        lost[0] += 1  # counted, and said once when the connection is back
    except Exception as exc:  # keep tailing; say why
        warn(f"error: ack {_short(idem)}: {error_text(exc)}")


def _recording(queue: asyncio.Queue[dict[str, Any]], recorder: Any) -> Any:
    def received(message: dict[str, Any]) -> None:
        recorder.record(message["record"])  # as it came, before anything else
        queue.put_nowait(message)

    return received


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _lost_acks(n: int) -> str:
    return f"{n} acknowledgement{'s' if n != 1 else ''} lost with the connection"


async def _watch(client: Any, lost: list[int] | None = None, recorder: Any = None) -> None:
    """Say on stderr when the connection drops and comes back."""
    lost = lost if lost is not None else [0]

    dropped = False
    async for state in client.state_changes():
        if recorder is not None:
            recorder.connection(state.status, state.reason)
        if state.status == "reconnecting":
            dropped = True
            reason = f": {state.reason}" if state.reason else ""
            wait = f" in {state.delay:.1f}s" if state.delay else ""
            if state.attempt <= 1:
                reason = reason.removeprefix(": connection lost")  # said once, not twice
                warn(f"connection lost{reason}; reconnecting{wait}")
            else:
                warn(f"reconnect attempt {state.attempt - 1} failed{reason}; retrying{wait}")
        elif state.status == "connected" and dropped:
            dropped = False
            if lost[0]:
                warn(f"reconnected ({_lost_acks(lost[0])}: those messages come again)")
                lost[0] = 0
            else:
                warn("reconnected")
