"""The explorer's driver under ``ensync-tui web``: Textual's web driver, made sure
to end when the server or the browser goes away.

Textual's ``WebDriver`` reads the server's pipe on a thread; when the pipe
closes (the server stopped, crashed or was killed) that thread just ends, and
the app goes on with no input and a dead output, whose every write fails. And
when nobody reads its output, a write blocks the event loop, so the SIGTERM
handler the loop would run never runs: the process ignores SIGTERM. Here a
closed input, a failed write and SIGTERM or SIGINT (caught by a plain signal
handler, which runs even while a write blocks) each ask the app to exit, and a
watchdog thread ends the process ``GRACE`` seconds later whatever the app does.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from textual import messages
from textual.drivers.web_driver import WebDriver

__all__ = ["GRACE", "WebSessionDriver"]

GRACE = 1.0  # seconds the app has to exit once its server is gone


class WebSessionDriver(WebDriver):
    """A ``WebDriver`` that never outlives its server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gone = threading.Event()
        self._stopping = False
        threading.Thread(target=self._watchdog, name="web-watchdog", daemon=True).start()
        write = self._write

        def safe_write(data: bytes) -> int:
            if self._gone.is_set():
                return len(data)
            try:
                return write(data)
            except OSError:  # the server closed our output: nobody is watching
                self.server_gone()
                return len(data)

        self._write = safe_write  # type: ignore[assignment]

    def start_application_mode(self) -> None:
        super().start_application_mode()
        for sig in (signal.SIGINT, signal.SIGTERM):  # not the loop's: it may be blocked
            signal.signal(sig, lambda _sig, _frame: self.server_gone())

    def stop_application_mode(self) -> None:
        self._stopping = True
        super().stop_application_mode()

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self._stopping:  # the input ended without a stop: the server is gone
            self.server_gone()

    def server_gone(self) -> None:
        """Exit now; the process ends in GRACE seconds whatever the app does."""
        if self._gone.is_set():
            return
        self._gone.set()  # wakes the watchdog
        app = self._app
        try:
            loop = app._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(app.post_message, messages.ExitApp())
        except Exception:
            os._exit(0)

    def _watchdog(self) -> None:
        self._gone.wait()
        time.sleep(GRACE)
        os._exit(0)  # no flush: a blocked output would block it too
