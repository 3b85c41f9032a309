"""Logging for a command: quiet unless -v, and never a secret or a control character."""

from __future__ import annotations

import logging
import sys
from typing import Any

from ensync_tui.cli.output import secrets, shown
from ensync_tui.crashlog import redact
from ensync_tui.safetext import visible

handlers: list[logging.Handler] = []  # what setup_logging installed


class SafeFormatter(logging.Formatter):
    """Every line redacted and escaped; tracebacks only when ``verbose``."""

    def __init__(self, fmt: str, verbose: bool) -> None:
        super().__init__(fmt)
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        cached, record.exc_text = record.exc_text, None  # another handler's, unredacted
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:
        return shown(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        if not self.verbose:  # one line a warning; tracebacks only with -v
            return ""
        return visible(redact(super().formatException(ei), secrets), layout=True)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (the explorer swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(verbose: bool) -> None:
    """Our warnings stay quiet (errors are reported in one line) unless -v; what is
    logged goes out with secrets redacted and control characters escaped."""
    root, logger = logging.getLogger(), logging.getLogger("ensync_tui")
    remove_handlers()  # a command may run more than once in a process (tests)
    handlers[:] = [StderrHandler()]
    if verbose:
        handlers[0].setFormatter(
            SafeFormatter("%(asctime)s %(name)s %(levelname)s %(message)s", verbose)
        )
        logger.setLevel(logging.DEBUG)
    else:  # ours are said by the commands; other libraries' warnings, made safe
        handlers[0].setFormatter(SafeFormatter("ensync-tui: %(name)s: %(message)s", verbose))
        handlers[0].addFilter(lambda record: not record.name.startswith("ensync_tui"))
        handlers.append(logging.NullHandler())
        logger.addHandler(handlers[1])
    root.addHandler(handlers[0])


def remove_handlers() -> None:
    """Take away what setup_logging installed."""
    for logger in (logging.getLogger(), logging.getLogger("ensync_tui")):
        for handler in handlers:
            logger.removeHandler(handler)
