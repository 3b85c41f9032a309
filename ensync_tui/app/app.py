"""The explorer app: wires the session, the history and the panes together."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import Worker

from ensync_tui.app import transfer
from ensync_tui.app.commands import EnsyncCommands
from ensync_tui.app.crash import report_crash
from ensync_tui.app.history import ACKED, DEFERRED, DISCARDED, NEW, Entry, History
from ensync_tui.app.messages import (
    ConnectionChanged,
    DemoStarted,
    NeedsConnection,
    Notice,
    RecordsReceived,
    RttMeasured,
    SessionReady,
    SubscriptionsChanged,
)
from ensync_tui.app.offload import Offload
from ensync_tui.app.screens.help import CONNECT_HELP
from ensync_tui.app.session import DemoLike, Session
from ensync_tui.app.widgets import (
    Inspector,
    Status,
    StatusBar,
    StreamHeader,
    StreamView,
    SubscriptionList,
)
from ensync_tui.safetext import visible
from ensync_tui.settings import Settings

INSPECT_DELAY = 0.15  # seconds the cursor rests before the inspector redraws
INSPECT_FOLLOW_DELAY = 1.0  # while following a stream: at most one inspector redraw a second
STATS_EVERY = 1.0
GC_FREEZE_RATE = 1_000  # records/s from which the collector is kept off held records
GC_THAW_RATE = 100  # ... until the flow falls below this (a flood near 1,000/s must not flip it)
SWITCH_INTERVAL = 0.001
VIEW_EVERY = 0.1  # seconds between stream redraws while records pour in
VIEW_EVERY_FIREHOSE = 0.25  # ... and above GC_FREEZE_RATE (keys still redraw at once)


class EnsyncApp(App[int]):
    """Browse, debug and replay what flows through EnSync."""

    CSS_PATH = "app.tcss"
    TITLE = "ensync-tui"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, EnsyncCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "ack", "Ack", id="ack"),
        Binding("A", "toggle_auto_ack", "Auto-ack", id="auto-ack"),
        Binding(
            "p", "pause", "Pause", id="pause", tooltip="Pause or resume the selected subscription"
        ),
        Binding("d", "defer", "Defer", id="defer"),
        Binding("x", "discard", "Discard", id="discard"),
        Binding("r", "replay", "Replay", id="replay"),
        Binding("n", "publish", "Publish", id="publish"),
        Binding("s", "subscribe", "Subscribe", id="subscribe"),
        Binding("u", "unsubscribe", "Unsubscribe", id="unsubscribe"),
        Binding("f", "follow", "Follow", id="follow"),
        Binding("c", "copy_payload", "Copy payload", id="copy-payload"),
        Binding("y", "copy_idem", "Copy idem", id="copy-idem"),
        Binding(  # listed in help and the palette: the footer has no room left
            "e",
            "export",
            "Export",
            id="export",
            show=False,
            tooltip="Write the messages in view to a file",
        ),
        Binding("slash", "filter", "Filter", id="filter", key_display="/"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        demo: DemoLike | None = None,
        *,
        start_session: bool = True,
        session_thread: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.demo = demo
        self.start_session = start_session
        # the session reads the socket on its own thread and loop, so a firehose never
        # stalls keys and redraws; a demo shares the app's loop (tests drive it from there)
        self.session_thread = demo is None if session_thread is None else session_thread
        self.clock = clock
        self.history = History(settings.history, settings.app_secret_key, clock)
        self.session = Session(settings, self.post_message, demo)
        self.auto_ack = settings.auto_ack
        self.status = Status(
            url=settings.url or "",
            state="connecting" if (settings.can_connect or demo) else "offline",
            capacity=self.history.maxlen,
            auto_ack=self.auto_ack,
        )
        self.subscriptions: list[str] = []
        self.seen_names: set[str] = set(settings.message_names)
        self.public_key = ""
        self.sent_history: list[dict[str, Any]] = []
        self.replay_history: list[tuple[str, str]] = []
        self.notices: list[tuple[str, str]] = []  # (severity, text), newest last
        self._inspect_timer: Timer | None = None
        self._last_inspect = 0.0
        self._view_pending = False
        self._last_view = 0.0
        self._gc_seen = 0
        self._names_known = 0
        self._switch_interval: float | None = None
        self._gc_frozen = False
        self._scan_timer: Any = None
        self._session_worker: Worker[None] | None = None
        self._session_closed = False
        self._main_screen: Any = None
        self._retry_at: float | None = None  # when the client tries the engine again
        self.offload = Offload(self.post_message)  # payload work off the UI loop
        self._scan_waiting = False  # the filter waits for large payloads being opened
        self.quitting = False  # keys and actions do nothing once quit has begun
        self.crashed = False
        self.crash_report: Path | None = None
        self._secrets = [settings.access_key, settings.app_secret_key]

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static("", id="banner")
        with Horizontal(id="main"):
            yield SubscriptionList(self.history, id="subs")
            with Vertical(id="centre"):
                yield Input(placeholder="filter: name, sender, idem or payload text", id="filter")
                yield StreamHeader(id="stream-header")
                yield StreamView(self.history, id="stream")
                yield Inspector(id="inspector")
        yield Static(CONNECT_HELP, id="connect-help")
        yield Footer(compact=True)

    def _q(self, selector: Any, expect_type: Any = None) -> Any:
        """A widget of the main screen, whatever dialog is on top."""
        screen = self._main_screen or self.screen
        if expect_type is None:
            return screen.query_one(selector)
        return screen.query_one(selector, expect_type)

    def on_mount(self) -> None:
        self._main_screen = self.screen
        if self.settings.keys:
            try:
                self.set_keymap(dict(self.settings.keys))
            except Exception as exc:  # a bad key name in the config must not stop the app
                self.say(f"key overrides ignored: {exc}", "warning")
        self._q("#banner").display = False
        self._q("#filter").display = False
        self._q("#connect-help").display = False
        self._q(SubscriptionList).set_names([], {})
        self._q(StreamView).focus()
        inspector = self._q(Inspector)
        inspector.previous = self._previous_of
        inspector.offload = self.stream.offload = self.offload
        self._know_contacts(self.settings)
        self.set_interval(STATS_EVERY, self._tick)
        self._show_status()
        if self.start_session:
            # paint the first frame before the session (and a demo engine) starts up
            self.call_after_refresh(self._start_session)
        elif not self.settings.can_connect and self.demo is None:
            self.post_message(NeedsConnection())

    def _start_session(self) -> None:
        if self.session_thread:
            # the UI thread gets the GIL back within 1 ms (not 5) while the session
            # thread parses a firehose: keys and redraws stay quick
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
            self._session_worker = self.run_session_thread()
        else:
            self._session_worker = self.run_session()

    @work(exclusive=True, exit_on_error=False, group="session")
    async def run_session(self) -> None:
        await self.session.run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="session")
    def run_session_thread(self) -> None:
        self.session.run_in_thread()

    async def close_session(self) -> None:
        """Stop the session and the demo (idempotent)."""
        if self._session_closed:
            return
        self._session_closed = True
        worker = self._session_worker
        self.session.stop()
        if worker is not None and not worker.is_finished:
            if not self.session_thread:
                worker.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), timeout=10)
        if self.session.loop is None or not self.session_thread:
            await self.session.close()

    async def on_unmount(self) -> None:
        self.offload.close()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        if self._gc_frozen:
            gc.unfreeze()
            self._gc_frozen = False
        await self.close_session()

    async def action_quit(self) -> None:
        # keys pressed while the session closes must not open dialogs on a closing app
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
        secrets = [*self._secrets, self.settings.access_key, self.settings.app_secret_key]
        secrets += list(getattr(self.demo, "secrets", list)())
        report_crash(self, error, secrets)

    def on_offload_done(self, message: Offload.Done) -> None:
        message.deliver()

    # -- helpers ---------------------------------------------------------------
    def say(self, text: str, severity: str = "information") -> None:
        """A notification; wire text in it shows its control characters as escapes."""
        text = visible(text)
        self.notices.append((severity, text))
        del self.notices[:-50]
        self.notify(text, severity=severity, markup=False)  # type: ignore[arg-type]

    @property
    def stream(self) -> StreamView:
        return self._q(StreamView)

    @property
    def selected(self) -> Entry | None:
        return self.stream.selected

    def _show_status(self) -> None:
        status = self.status
        history = self.history
        status.received = history.received
        status.held = history.held
        status.acked = history.acked
        status.pending = history.pending
        status.auto_ack = self.auto_ack
        current = history.filter
        status.view = " ".join(
            part
            for part in (current.name or "", f"/{current.text}" if current.text else "")
            if part
        )
        status.shown = len(history) if current.active else 0
        status.searching = history.scanning
        if self._retry_at is not None:  # "reconnecting n in s" counts down
            status.delay = max(0.0, self._retry_at - self.clock())
        with contextlib.suppress(Exception):
            status.follow = self.stream.follow
            self._q(StatusBar).show_status(status)

    def _tick(self) -> None:
        self._tune_gc()
        with contextlib.suppress(NoMatches):
            subs = self._q(SubscriptionList)
            if self.status.state == "connected" and not self.subscriptions:
                # e.g. every configured name was refused: say how to subscribe
                subs.set_empty_hint(self._no_subscriptions_hint())
            subs.update_counts(self.clock())
            self._show_status()

    def _tune_gc(self) -> None:
        """Under a firehose, move survivors out of the collector's way (gc.freeze).

        Held records are freed by reference counting when the ring drops them; only
        the full collections that rescan them all (long pauses) are avoided. When the
        flow calms down, everything is handed back to the collector.
        """
        received = self.history.received
        rate = (received - self._gc_seen) / STATS_EVERY
        self._gc_seen = received
        if rate >= GC_FREEZE_RATE:
            gc.freeze()
            self._gc_frozen = True
        elif self._gc_frozen and rate < GC_THAW_RATE:
            gc.unfreeze()
            self._gc_frozen = False

    def known_names(self) -> list[str]:
        return sorted(self.seen_names | set(self.subscriptions) | set(self.history.stats))

    def subscribed_names(self) -> list[str]:
        return list(self.subscriptions)

    def recent_idems(self, count: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        entries = self.history.entries
        for i in range(len(entries) - 1, max(-1, len(entries) - 1 - count), -1):
            out.append((entries[i].name, entries[i].idem))
        return out

    def action_bindings(self) -> list[Binding]:
        """The app's bindings with their keys as the keymap sets them."""
        keys = self.settings.keys
        out = []
        for item in self.BINDINGS:
            if isinstance(item, Binding):
                key = keys.get(item.id or "", item.key)
                display = item.key_display if key == item.key else None
                out.append(dataclasses.replace(item, key=key, key_display=display))
        return out

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.quitting:
            return False
        # the main screen's keys do nothing while a dialog is open
        return not (self.screen is not self.screen_stack[0] and action in self._main_actions)

    _main_actions: ClassVar[set[str]] = {
        "ack",
        "toggle_auto_ack",
        "pause",
        "defer",
        "discard",
        "replay",
        "publish",
        "subscribe",
        "unsubscribe",
        "follow",
        "copy_payload",
        "copy_idem",
        "filter",
        "help",
    }

    # -- session facts ---------------------------------------------------------
    def on_records_received(self, message: RecordsReceived) -> None:
        self.ingest(message.records)

    def ingest(self, records: list[Any]) -> list[Entry]:
        """Add delivered records (entries or client message dicts) to the history and view."""
        entries = self.history.add_messages(records)
        if len(self.history.stats) != self._names_known:
            self.seen_names.update(self.history.stats)
            self._names_known = len(self.history.stats)
        self._schedule_view()
        if self.history.scanning and self._scan_timer is None and not self._scan_waiting:
            self._scan_step()  # a large payload arrived under a text filter
        if self.auto_ack:
            todo = [(e.name, e.idem, e.block) for e in entries if e.state == NEW]
            if todo:
                self._ack_many(todo)
        return entries

    def _schedule_view(self) -> None:
        """Redraw the stream and totals soon: at most VIEW_EVERY apart under a firehose."""
        if self._view_pending:
            return
        self._view_pending = True
        every = VIEW_EVERY_FIREHOSE if self._gc_frozen else VIEW_EVERY
        wait = every - (time.monotonic() - self._last_view)
        if wait <= 0:
            self.call_later(self._update_view)
        else:
            self.set_timer(wait, self._update_view)

    def _update_view(self) -> None:
        self._view_pending = False
        self._last_view = time.monotonic()
        with contextlib.suppress(NoMatches):
            self.stream.data_changed()
            self._show_status()

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        status = self.status
        old = status.state
        status.state = message.status
        status.attempt = message.attempt
        status.delay = message.delay
        status.reason = message.reason
        reconnecting = message.status == "reconnecting"
        self._retry_at = self.clock() + message.delay if reconnecting else None
        if message.status != "connected":
            status.rtt = None
        if message.status == "connected" and old == "reconnecting":
            self.say("reconnected")
        self._show_status()

    def on_notice(self, message: Notice) -> None:
        self.say(message.text, message.severity)

    def on_rtt_measured(self, message: RttMeasured) -> None:
        self.status.rtt = message.seconds
        self._show_status()

    def _know_contacts(self, settings: Settings) -> None:
        """Senders with a contact name show by that name."""
        senders = {key: name for name, key in settings.contacts.items() if key}
        self.stream.senders = senders
        self._q(Inspector).senders = senders
        self.stream.refresh()

    def on_session_ready(self, message: SessionReady) -> None:
        self._know_contacts(message.settings)
        self.settings = message.settings
        self.public_key = message.public_key
        self.status.public_key = message.public_key
        self.status.url = message.settings.url or ""
        self.seen_names.update(message.settings.message_names)
        if not message.settings.subscribe:
            self._q(SubscriptionList).set_empty_hint(self._no_subscriptions_hint())
        self._show_status()

    def _no_subscriptions_hint(self) -> str:
        key = self.settings.keys.get("subscribe", "s")
        return f"No subscriptions yet:\npress {key} to subscribe"

    def on_demo_started(self, message: DemoStarted) -> None:
        settings = message.settings
        self._know_contacts(settings)
        self.settings = settings
        self.history.secret_key = settings.app_secret_key
        if settings.history != self.history.maxlen and not self.history.held:
            self.history = History(settings.history, settings.app_secret_key, self.clock)
            self.stream.history = self.history
            self._q(SubscriptionList).history = self.history
            self.status.capacity = self.history.maxlen
        if settings.auto_ack:
            self.auto_ack = True
        banner = self._q("#banner", Static)
        banner.update(Content(message.banner))
        banner.display = True
        self.status.url = settings.url or ""
        self._show_status()

    def on_needs_connection(self, message: NeedsConnection) -> None:
        self.status.state = "offline"
        self._q("#main").display = False
        self._q("#connect-help").display = True
        self._show_status()

    def on_subscriptions_changed(self, message: SubscriptionsChanged) -> None:
        self.subscriptions = list(message.names)
        self.seen_names.update(message.names)
        subs = self._q(SubscriptionList)
        subs.set_empty_hint(self._no_subscriptions_hint())
        subs.set_names(self.subscriptions, message.paused)

    # -- panes -----------------------------------------------------------------
    @on(StreamView.Selected)
    def _selected(self, event: StreamView.Selected) -> None:
        # following: redraw at most once a second; moved by the user: once the cursor rests
        if self.stream.follow:
            if self._inspect_timer is None:
                since = time.monotonic() - self._last_inspect
                delay = max(INSPECT_DELAY, INSPECT_FOLLOW_DELAY - since)
                self._inspect_timer = self.set_timer(delay, self._inspect)
            return
        if self._inspect_timer is not None:
            self._inspect_timer.stop()
        self._inspect_timer = self.set_timer(INSPECT_DELAY, self._inspect)

    def _inspect(self) -> None:
        self._inspect_timer = None
        self._last_inspect = time.monotonic()
        with contextlib.suppress(NoMatches):
            self._q(Inspector).show(self.selected, self.history.secret_key)

    def _previous_of(self, entry: Entry) -> Entry | None:
        return self.history.previous_of(entry)

    def inspect_now(self, entry: Entry | None) -> None:
        self._q(Inspector).show(entry, self.history.secret_key)

    @on(StreamView.FollowChanged)
    def _follow_changed(self, event: StreamView.FollowChanged) -> None:
        self._show_status()

    @on(SubscriptionList.Chosen)
    def _chosen(self, event: SubscriptionList.Chosen) -> None:
        self.apply_filter(name=event.name)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(text=event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            self._q("#filter").display = False
        self.stream.focus()

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and self.focused is self._q("#filter", Input):
            filter_input = self._q("#filter", Input)
            filter_input.value = ""
            filter_input.display = False
            self.apply_filter(text="")
            self.stream.focus()
            event.stop()

    def apply_filter(self, name: str | bool | None = False, text: str | None = None) -> None:
        """Change the name (None = all) and/or text filter; scans the history in slices."""
        current = self.history.filter
        new_name = current.name if name is False else name
        new_text = current.text if text is None else text
        self.history.set_filter(new_name if isinstance(new_name, str) else None, new_text)
        self._q(SubscriptionList).show_chosen(self.history.filter.name)
        self._scan_step()

    def _scan_step(self) -> None:
        history = self.history
        done = history.scan(5_000)
        self.stream.data_changed()
        self._show_status()
        if self._scan_timer is not None:
            self._scan_timer.stop()
            self._scan_timer = None
        waiting, key = history.waiting, history.secret_key
        if waiting:  # open the large payloads off the UI loop, then go on
            self._scan_waiting = True

            def opened(_: object) -> None:
                self._scan_waiting = False
                if self.history is history and history.scanning and self._scan_timer is None:
                    self._scan_step()

            self.offload.bulk(lambda: [e.payload_text(key) for e in waiting], opened, opened)
        elif not done:
            self._scan_timer = self.set_timer(0.01, self._scan_step)

    def filter_name(self, name: str) -> None:
        self.apply_filter(name=name)

    def select_idem(self, idem: str) -> None:
        entry = self.history.by_idem.get(idem)
        if entry is None:
            self.say(f"{idem} is not held any more", "warning")
            return
        if not self.stream.select_entry(entry):
            self.apply_filter(name=None, text="")
            self._q("#filter", Input).value = ""
            self.stream.select_entry(entry)
        self.inspect_now(entry)

    def show_replayed(self, message: dict[str, Any]) -> None:
        """A replay result: mark it replayed (adding it when not held) and inspect it."""
        entry = self.history.add_replayed(message)
        self.seen_names.add(entry.name)
        self.stream.data_changed()
        self.stream.select_entry(entry)
        self.inspect_now(entry)
        self._show_status()

    # -- actions -----------------------------------------------------------------
    def offline_reason(self) -> str | None:
        """Why the engine cannot be asked anything now, or None when connected."""
        state = self.status.state
        if state == "connected":
            return None
        return f"not connected to the engine ({'not set up' if state == 'offline' else state})"

    def _refused_offline(self, label: str) -> bool:
        """Say why ``label`` cannot run now; False when connected."""
        reason = self.offline_reason()
        if reason:
            self.say(f"{label} failed: {reason}", "warning")
        return reason is not None

    async def publish(
        self, name: str, recipients: list[str], payload: Any, metadata: dict[str, Any], hybrid: bool
    ) -> list[dict[str, Any]]:
        """The composer's send: refused at once while the engine is away."""
        reason = self.offline_reason()
        if reason:
            raise Offline(reason)
        return await self.session.publish(name, recipients, payload, metadata, hybrid)

    async def replay(self, name: str, idem: str) -> dict[str, Any]:
        """Replay search's fetch: refused at once while the engine is away."""
        reason = self.offline_reason()
        if reason:
            raise Offline(reason)
        return await self.session.replay(name, idem)

    def _run(self, job: Coroutine[Any, Any, Any], label: str) -> None:
        """Run an engine action without blocking the UI; report the outcome.

        While the engine is away the action is refused at once: the client would
        otherwise hold it until the request times out, and the key would seem dead.
        """
        if self._refused_offline(label):
            job.close()
            return

        async def runner() -> None:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.say(f"{label} failed: {_why(exc)}", "error")

        self.run_worker(runner(), group="actions", exit_on_error=False)

    def _need_selected(self) -> Entry | None:
        entry = self.selected
        if entry is None:
            self.say("no record selected", "warning")
        elif self._q(Inspector).entry is not entry:
            # following a busy stream, the inspector trails the cursor by up to a
            # second: show the record the key acts on before acting on it
            self.inspect_now(entry)
        return entry

    def _subscription_target(self) -> str | None:
        name = self._q(SubscriptionList).highlighted_name
        if name is None and self.selected is not None:
            name = self.selected.name
        if name is None:
            self.say("select a subscription in the list first (shift+tab moves there)", "warning")
        return name

    def action_ack(self) -> None:
        entry = self._need_selected()
        if entry is None:
            return

        async def job() -> None:
            await self.session.ack(entry.name, entry.idem, entry.block)
            self._mark(entry.idem, ACKED)
            self.say(f"acked {entry.idem}")

        self._run(job(), "ack")

    def _mark(self, idem: str, state: str) -> None:
        self.history.set_state(idem, state)
        self.stream.refresh()
        if self.selected is not None and self.selected.idem == idem:
            self.inspect_now(self.selected)
        self._show_status()

    @work(group="acks", exit_on_error=False)
    async def _ack_many(self, items: list[tuple[str, str, int]]) -> None:
        try:
            failures = await self.session.ack_many(items)
        except Exception as exc:
            self.say(f"auto-ack failed: {_why(exc)}", "error")
            return
        failed = {idem for idem, _ in failures}
        for _, idem, _ in items:
            if idem not in failed:
                self.history.set_state(idem, ACKED)
        if failures:
            self.say(f"auto-ack failed for {len(failures)}: {_why(failures[0][1])}", "error")
        self.stream.refresh()
        self._show_status()

    def action_toggle_auto_ack(self) -> None:
        self.auto_ack = not self.auto_ack
        self.say("auto-ack on: records are acked as they arrive" if self.auto_ack else "manual ack")
        self._show_status()

    def action_pause(self) -> None:
        name = self._subscription_target()
        if name is None:
            return
        if name in self.session.paused:

            async def resume() -> None:
                await self.session.resume(name)
                self.say(f"resumed {name}")

            self._run(resume(), f"resume {name}")
            return
        if self._refused_offline(f"pause {name}"):
            return
        from ensync_tui.app.screens.prompts import PauseScreen

        def done(reason: str | None) -> None:
            if reason is None:
                return

            async def pause() -> None:
                await self.session.pause(name, reason)
                self.say(f"paused {name}")

            self._run(pause(), f"pause {name}")

        self.push_screen(PauseScreen(name), done)

    def action_defer(self) -> None:
        entry = self._need_selected()
        if entry is None or self._refused_offline("defer"):
            return
        from ensync_tui.app.screens.prompts import DeferScreen

        def done(answer: tuple[int, str] | None) -> None:
            if answer is None:
                return
            delay_ms, reason = answer

            async def defer() -> None:
                await self.session.defer(entry.name, entry.idem, delay_ms, reason)
                self._mark(entry.idem, DEFERRED)
                self.say(f"deferred {entry.idem} for {delay_ms / 1000:g} s")

            self._run(defer(), "defer")

        self.push_screen(DeferScreen(entry.idem), done)

    def action_discard(self) -> None:
        entry = self._need_selected()
        if entry is None or self._refused_offline("discard"):
            return
        from ensync_tui.app.screens.prompts import DiscardScreen

        def done(reason: str | None) -> None:
            if reason is None:
                return

            async def discard() -> None:
                await self.session.discard(entry.name, entry.idem, reason)
                self._mark(entry.idem, DISCARDED)
                self.say(f"discarded {entry.idem}")

            self._run(discard(), "discard")

        self.push_screen(DiscardScreen(entry.idem), done)

    def action_replay(self) -> None:
        from ensync_tui.app.screens.replay import ReplayScreen

        self.push_screen(
            ReplayScreen(self.known_names(), self.replay_history, self.replay, self._replayed)
        )

    def replay_idem(self, name: str, idem: str) -> None:
        async def job() -> None:
            message = await self.session.replay(name, idem)
            self._replayed(message)
            self.say(f"replayed {idem}")

        self._run(job(), f"replay {idem}")

    def _replayed(self, message: dict[str, Any]) -> None:
        name = str(message.get("messageName") or "")
        idem = str(message.get("idem") or "")
        if (name, idem) not in self.replay_history:
            self.replay_history.append((name, idem))
        self.show_replayed(message)

    def action_publish(self) -> None:
        from ensync_tui.app.screens.composer import ComposerScreen

        self.push_screen(
            ComposerScreen(
                self.known_names(),
                dict(self.settings.contacts),
                self.public_key,
                self.sent_history,
                self.publish,
            )
        )

    def action_subscribe(self) -> None:
        from ensync_tui.app.screens.prompts import SubscribeScreen

        def done(name: str | None) -> None:
            if name:
                self.subscribe_to(name)

        self.push_screen(SubscribeScreen(self.known_names(), self.subscribed_names()), done)

    def subscribe_to(self, name: str) -> None:
        if name in self.subscriptions:
            self.say(f"already subscribed to {name}")
            return

        async def job() -> None:
            await self.session.subscribe(name)
            self.say(f"subscribed to {name}")

        self._run(job(), f"subscribe {name}")

    def action_unsubscribe(self) -> None:
        name = self._q(SubscriptionList).highlighted_name
        if name is None:
            self.say("select a subscription in the list first (shift+tab moves there)", "warning")
            return

        async def job() -> None:
            await self.session.unsubscribe(name)
            self.say(f"unsubscribed from {name}")

        self._run(job(), f"unsubscribe {name}")

    def action_follow(self) -> None:
        self.stream.resume_follow()
        self.stream.focus()

    def action_copy_payload(self) -> None:
        entry = self._need_selected()
        if entry is not None:
            transfer.copy_payload(self, entry)

    def action_copy_idem(self) -> None:
        entry = self._need_selected()
        if entry is not None:
            transfer.copy_idem(self, entry)

    def action_export(self) -> None:
        transfer.export_view(self)

    def action_filter(self) -> None:
        filter_input = self._q("#filter", Input)
        filter_input.display = True
        filter_input.focus()

    def action_help(self) -> None:
        from ensync_tui.app.screens.help import HelpScreen

        palette = Binding(
            self.COMMAND_PALETTE_BINDING, "command_palette", "Command palette", id="command-palette"
        )
        self.push_screen(HelpScreen([*self.action_bindings(), palette]))


class Offline(Exception):
    """An engine action asked for while there is no connection."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc or type(exc).__name__)


def run_app(settings: Settings, demo: DemoLike | None = None) -> int:
    """Run the explorer until it quits; returns the exit code."""
    app = EnsyncApp(settings, demo)

    async def main() -> int:
        try:
            await app.run_async()
        finally:
            await app.close_session()
        return app.return_code or 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130
