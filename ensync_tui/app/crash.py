"""What the explorer does when something unexpected stops it: a private report, one line.

Textual's own crash screen prints a traceback with every local variable of
every frame (the app secret key among them). The explorer replaces it: the
traceback, without locals and with every secret redacted, goes to a file
(``ensync_tui.crashlog``), and the terminal says in one line what stopped the
explorer and where that file is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.text import Text

from ensync_tui.crashlog import redact, write_crash_log
from ensync_tui.safetext import visible

__all__ = ["crash_message", "report_crash"]


def crash_message(error: BaseException, path: Path | None, secrets: Iterable[str | None]) -> str:
    """The one line the terminal shows after a crash."""
    what = type(error).__name__
    detail = redact(visible(str(error)), list(secrets))
    if len(detail) > 200:
        detail = detail[:199] + "…"
    head = f"ensync-tui stopped on an unexpected error ({what}{': ' + detail if detail else ''})."
    if path is None:
        return head + " The crash report could not be written."
    return head + f" A crash report without secrets is in {path}"


def report_crash(app: Any, error: Exception, secrets: Iterable[str | None]) -> Path | None:
    """Stand-in for Textual's ``App._handle_exception``: exit with code 1, a redacted
    report on disk and one line on the terminal; never a traceback with locals."""
    known = list(secrets)
    # what Textual's handler does besides printing (Textual 8.2.8, pinned): remember
    # the first error (Pilot raises it in tests) and exit with code 1
    app._return_code = 1
    if app._exception is None:
        app._exception = error
        app._exception_event.set()
    if app.crashed:  # one report per run: the first error is the one that matters
        return app.crash_report
    app.crashed = True
    path = write_crash_log(error, known, what="ensync-tui explorer")
    app.crash_report = path
    app.panic(Text(crash_message(error, path, known)))
    return path
