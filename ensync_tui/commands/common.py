"""What the connecting headless commands share: settings, connecting, NDJSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ensync_tui.cli import EXIT_INTERRUPTED, CommandError, UsageError

if TYPE_CHECKING:
    from ensync_tui.client import EnSyncClient
    from ensync_tui.settings import Settings

T = TypeVar("T")
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it

HOW_TO_CONNECT = (
    "no engine configured: pass --url and --access-key, set ENSYNC_URL and "
    "ENSYNC_ACCESS_KEY, or choose a profile with --profile (see `ensync-tui config path`)"
)


def connected_settings(args: argparse.Namespace) -> Settings:
    from ensync_tui.cli import settings_from

    settings = settings_from(args)
    if not settings.can_connect:
        raise UsageError(HOW_TO_CONNECT)
    return settings


def error_text(exc: BaseException) -> str:
    """One line saying what went wrong, without the exception class noise."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())


def connect_failure(url: str, exc: BaseException) -> str:
    """One line on why connecting to ``url`` failed (the client's reason names the cause)."""
    text = error_text(exc)
    if not text.startswith("cannot connect"):
        text = f"cannot connect to {url}: {text}"
    return text


@asynccontextmanager
async def connect(settings: Settings, *, reconnect: bool = False) -> AsyncIterator[EnSyncClient]:
    """A client for ``settings``; connection failures become CommandError."""
    from ensync_tui.client import EnSyncEngine, EnSyncError

    options = settings.client_options(max_reconnect_attempts=0 if reconnect else 1)
    assert settings.url and settings.access_key
    _report_skipped_frames()
    try:
        engine = EnSyncEngine(settings.url, options)
        client = await engine.create_client(
            settings.access_key, {"appSecretKey": settings.app_secret_key}
        )
    except (EnSyncError, OSError) as exc:
        raise CommandError(connect_failure(settings.url, exc)) from None
    try:
        yield client
    finally:
        try:
            await asyncio.wait_for(client.close(), 5)
        except Exception:
            pass


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine; client errors become CommandError.

    Ctrl+C (SIGINT) and SIGTERM stop it with its cleanup run, exit codes 130 and
    143, also when the command was started with SIGINT ignored (``cmd &`` in a
    script), so a signal sent on purpose is never lost.
    """
    from ensync_tui.client import EnSyncError

    stopped_by: list[int] = []

    def on_signal(task: asyncio.Task[Any], code: int) -> None:
        if not stopped_by:
            stopped_by.append(code)
            task.cancel()

    async def guarded() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        handled = []
        for sig, code in ((signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_TERMINATED)):
            try:
                if task is not None:
                    loop.add_signal_handler(sig, on_signal, task, code)
                    handled.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not on this platform
                pass
        loop.set_exception_handler(_loop_error)
        try:
            return await main()
        except EnSyncError as exc:
            raise CommandError(error_text(exc)) from None
        except asyncio.CancelledError:
            if stopped_by:
                return cast(T, stopped_by[0])
            raise
        finally:
            for sig in handled:
                with suppress(Exception):
                    loop.remove_signal_handler(sig)

    return asyncio.run(guarded())


def record_json(message: dict[str, Any]) -> dict[str, Any]:
    """A delivered or replayed message as one NDJSON object."""
    return {
        "messageName": message.get("messageName"),
        "idem": message.get("idem"),
        "block": message.get("block"),
        "timestamp": message.get("timestamp"),
        "sender": message.get("sender"),
        "metadata": message.get("metadata"),
        "payload": message.get("payload"),
        "decryptError": message.get("decryptError"),
    }


def json_line(obj: Any) -> str:
    """Compact JSON text that a terminal shows as it is: every control, bidi and
    invisible character escaped; NaN and Infinity (not JSON) refused with ValueError."""
    from ensync_tui.safetext import json_visible

    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return json_visible(text)


def message_line(message: dict[str, Any]) -> tuple[str, str]:
    """The NDJSON line of a delivered or replayed message, and why it could not be
    shown whole ("" when it could). Never raises: a payload or metadata that JSON
    cannot carry again (nested too deeply, NaN, too large) gives the record as
    received, its envelope as ``rawPayload``, and the reason in ``decryptError``."""
    shown = record_json(message)
    try:
        return json_line(shown), ""
    except Exception as exc:  # RecursionError, ValueError, MemoryError: this message only
        reason = "cannot be shown as JSON: " + " ".join(f"{type(exc).__name__}: {exc}".split())
    reason = reason[:200]
    shown.update(payload=None, rawPayload=getattr(message.get("record"), "payload", None))
    shown["decryptError"] = shown["decryptError"] or reason
    for _ in range(2):
        try:
            return json_line(shown), reason
        except Exception:
            shown["metadata"] = None  # then without it
    keep = ("messageName", "idem", "block", "timestamp", "decryptError", "rawPayload")
    return json_line({k: shown[k] for k in keep if isinstance(shown[k], str | int)}), reason


def print_json(obj: Any, flush: bool = True) -> None:
    """One compact JSON object and a newline on stdout."""
    sys.stdout.write(json_line(obj))
    sys.stdout.write("\n")
    if flush:
        sys.stdout.flush()


def warn(text: str) -> None:
    """One line on stderr, secrets redacted and control characters escaped."""
    from ensync_tui.cli import shown

    print(shown(f"ensync-tui: {text}"), file=sys.stderr, flush=True)


def _report_skipped_frames() -> None:
    """Frames the client skips as unreadable are said on stderr, one line each."""
    frames = logging.getLogger("ensync_tui.client.frames")
    if not any(isinstance(h, _WarnHandler) for h in frames.handlers):
        frames.addHandler(_WarnHandler(logging.WARNING))


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A failure in a background task: logged (shown with -v), never a bare traceback."""
    exc = context.get("exception")
    logging.getLogger("ensync_tui").debug(
        "event loop: %s", context.get("message"), exc_info=exc if exc else None
    )


class _WarnHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        warn("warning: " + record.getMessage())
