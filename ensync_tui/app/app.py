"""The explorer app: its screens, keymap, theme and palette, the runtime's life, crashes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, work
from textual.app import App
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker

from ensync_tui.app.controller import Controller
from ensync_tui.app.crash import report_crash
from ensync_tui.app.keymap import QUIT, remember_theme, remembered_theme
from ensync_tui.app.messages import NeedsConnection
from ensync_tui.app.recorded import READ_ONLY, FileHistory, FileSource
from ensync_tui.app.runtime import DemoLike, Runtime, Tuning
from ensync_tui.app.screens.main import MainScreen
from ensync_tui.app.widgets import SubscriptionList
from ensync_tui.errors import EXIT_INTERRUPTED
from ensync_tui.settings import Settings

if TYPE_CHECKING:
    from ensync_tui.recording.index import Index
    from ensync_tui.recording.writer import Recorder

__all__ = ["EnsyncApp", "run_app"]


class EnsyncApp(App[int]):
    """Browse, debug and replay what flows through EnSync."""

    CSS_PATH = "app.tcss"
    TITLE = "ensync-tui"

    BINDINGS: ClassVar[list[BindingType]] = [QUIT]

    def __init__(
        self,
        settings: Settings,
        demo: DemoLike | None = None,
        *,
        start_session: bool = True,
        session_thread: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        recorder: Recorder | None = None,
        recording: Index | None = None,
        remember: bool = False,
    ) -> None:
        super().__init__()
        self.remember = remember  # the theme chosen is kept for the next run
        self.recorder = recorder
        self.settings = settings
        self.demo = demo
        self.start_session = start_session
        # the runtime reads the socket on its own thread and loop, so a firehose never
        # stalls keys and redraws; a demo shares the app's loop (tests drive it from there)
        self.session_thread = demo is None if session_thread is None else session_thread
        if recording is not None:  # a file to explore: read only, nothing asks an engine
            self.session_thread = True
            history = FileHistory(recording, settings.app_secret_key)
            self.controller = Controller(settings, clock, history=history, read_only=READ_ONLY)
            self.controller.status.url = str(recording.path)
            source = FileSource(settings, self.tell_main, recording)
            self.runtime = cast(Runtime, source)
        else:
            self.controller = Controller(settings, clock, demo=demo is not None)
            self.runtime = Runtime(settings, self.tell_main, demo, recorder=recorder)
        self.tuning = Tuning()
        self.main = MainScreen(self.controller, self.runtime, self.tuning)
        self._session_worker: Worker[None] | None = None
        self._session_closed = False
        self.quitting = False  # keys do nothing once quit has begun
        self.crashed = False
        self.crash_report: Path | None = None

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def tell_main(self, message: Message) -> None:
        """What the runtime learns goes to the main screen (from any thread)."""
        self.main.post_message(message)

    def on_mount(self) -> None:
        self._start_theme()
        if self.settings.keys:
            try:
                self.set_keymap(dict(self.settings.keys))
            except Exception as exc:  # a bad key name in the config must not stop the app
                self.main.say(f"key overrides ignored: {exc}", "warning")
        if self.recorder is not None:
            self.set_interval(1.0, self._check_recording)
        if self.start_session:
            # paint the first frame before the runtime (and a demo engine) starts up
            self.call_after_refresh(self._start_session)
        elif not self.settings.can_connect and self.demo is None:
            self.tell_main(NeedsConnection())

    def _check_recording(self) -> None:
        """Say once that the recording stopped (a full disk, say)."""
        recorder = self.recorder
        if recorder is not None and recorder.error:
            self.main.say(f"recording stopped: {recorder.error}", "error")
            self.recorder = None

    def _start_theme(self) -> None:
        """The config's theme, or the one last chosen (``remember``: kept for next time)."""
        configured = self.settings.theme
        theme = remembered_theme(configured) if self.remember else configured
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.main.say(f"theme {theme!r} is not known: kept {self.theme!r}", "warning")
        if self.remember:
            self.theme_changed_signal.subscribe(
                self, lambda chosen: remember_theme(chosen.name, configured)
            )

    def _start_session(self) -> None:
        if isinstance(self.runtime, FileSource):
            self.main.stream.follow = False  # a file opens at its first record
            self.main.query_one(SubscriptionList).set_window(0)  # nothing is in flight
        if self.session_thread:
            self.tuning.quick_switch()
            self._session_worker = self.run_session_thread()
        else:
            self._session_worker = self.run_session()

    @work(exclusive=True, exit_on_error=False, group="session")
    async def run_session(self) -> None:
        await self.runtime.run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="session")
    def run_session_thread(self) -> None:
        self.runtime.run_in_thread()

    async def close_session(self) -> None:
        """Stop the runtime and the demo (idempotent)."""
        if self._session_closed:
            return
        self._session_closed = True
        worker = self._session_worker
        self.runtime.stop()
        if worker is not None and not worker.is_finished:
            if not self.session_thread:
                worker.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), timeout=10)
        if self.runtime.loop is None or not self.session_thread:
            await self.runtime.close()

    async def on_unmount(self) -> None:
        self.tuning.restore()
        await self.close_session()

    async def action_quit(self) -> None:
        # keys pressed while the runtime closes must not open dialogs on a closing app
        self.quitting = True
        await self.close_session()
        self.exit(0)

    async def on_event(self, event: events.Event) -> None:
        if self.quitting and isinstance(event, events.InputEvent):
            return
        await super().on_event(event)

    def _handle_exception(self, error: Exception) -> None:
        # Textual's handler prints a traceback with local variables: the secret key
        # would be among them. A redacted report goes to a private file instead.
        settings = [self.settings, self.controller.settings, self.runtime.settings]
        secrets = [
            s for one in settings for s in (one.access_key, one.app_secret_key, one.account_key)
        ]
        secrets += list(getattr(self.demo, "secrets", list)())
        report_crash(self, error, secrets)


def run_app(
    settings: Settings,
    demo: DemoLike | None = None,
    recorder: Recorder | None = None,
    recording: Index | None = None,
) -> int:
    """Run the explorer until it quits (on a recording, with ``recording``); the exit code."""
    app = EnsyncApp(settings, demo, recorder=recorder, recording=recording, remember=True)

    async def main() -> int:
        try:
            await app.run_async()
        finally:
            await app.close_session()
        return app.return_code or 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
