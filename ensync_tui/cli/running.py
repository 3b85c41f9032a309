"""Running a connecting command: the client for its settings, its coroutine with
Ctrl+C and SIGTERM handled, and the client's warnings said on stderr."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ensync_tui.cli.output import warn
from ensync_tui.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, CommandError, error_text

if TYPE_CHECKING:
    from ensync_tui.client import EnSyncClient
    from ensync_tui.settings import Settings

T = TypeVar("T")


def connect_failure(url: str, exc: BaseException) -> str:
    """One line on why connecting to ``url`` failed (the client's reason names the cause).

    The URL is the socket URL the client dialed (``…/message``), as in the client's own
    reasons, so every failure names the engine the same way."""
    from ensync_tui.client.errors import EnSyncError
    from ensync_tui.client.options import message_url

    text = error_text(exc)
    if not text.startswith("cannot connect"):
        try:
            url = message_url(url)
        except EnSyncError:
            pass
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
