"""The main screen: subscriptions, the stream, the inspector, and the keys that act on them.

Its keys are this screen's bindings, so they do nothing while a dialog is open.
It hands what the runtime reports to the controller and draws what that holds;
the redraws are paced in the time of the controller's clock (``pacing``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Footer, Input, Static

from ensync_tui.app import schemas, transfer
from ensync_tui.app.controller import Controller
from ensync_tui.app.messages import (
    ConnectionChanged,
    DemoStarted,
    NeedsConnection,
    Notice,
    RecordsReceived,
    RegistryFailed,
    RegistryRead,
    RttMeasured,
    SessionReady,
    SubscriptionsChanged,
)
from ensync_tui.app.offload import Offload
from ensync_tui.app.pacing import (
    INSPECT_FOLLOW_DELAY,
    STATS_EVERY,
    VIEW_EVERY,
    VIEW_EVERY_FIREHOSE,
    Stoppable,
    Throttle,
    TimerClock,
    inspect_delay,
)
from ensync_tui.app.palette import EnsyncCommands
from ensync_tui.app.runtime import Runtime, Tuning
from ensync_tui.app.screens.help import CONNECT_HELP
from ensync_tui.app.screens.main_select import SelectionActions
from ensync_tui.app.widgets import (
    FOLD,
    INSPECTOR_KEYS,
    LIST_KEYS,
    Inspector,
    StatusBar,
    StreamHeader,
    StreamView,
    SubscriptionList,
)
from ensync_tui.app.widgets.filter_bar import FilterInput, FilterStatus
from ensync_tui.errors import error_text

__all__ = ["MainScreen"]


class MainScreen(SelectionActions):
    """Browse, debug and replay what flows through EnSync."""

    COMMANDS: ClassVar[set[Any]] = {EnsyncCommands}

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
        Binding(
            "K",
            "compare_by",
            "Compare by key path",
            id="compare-by",
            show=False,
            tooltip="Choose the key path the Changes tab compares this name by",
        ),
        Binding("space", "toggle_select", "Select", id="select-toggle", show=False),
        Binding("v", "select_view", "Select all in view", id="select-view", show=False),
        Binding("V", "clear_selection", "Clear the selection", id="select-clear", show=False),
        Binding(
            "R",
            "redrive",
            "Re-publish",
            id="redrive",
            show=False,
            tooltip="Send the message (or the selection) again, through the composer",
        ),
        Binding(  # in the Tree tab: follow one entity across all names
            "equals_sign",
            "filter_by_value",
            "Filter by this value",
            id="filter-by-value",
            key_display="=",
            show=False,
            tooltip="Filter the stream by the Tree tab's field and its value",
        ),
        Binding(
            "ctrl+r",
            "reconnect",
            "Reconnect now",
            id="reconnect",
            show=False,
            tooltip="Try the engine again now instead of at the end of the wait",
        ),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        FOLD,
        *INSPECTOR_KEYS,
    ]

    def __init__(self, controller: Controller, runtime: Runtime, tuning: Tuning) -> None:
        super().__init__(controller, runtime)
        self.tuning = tuning
        self.clock = controller.clock
        self.offload = Offload(self.post_message)  # payload work off the UI loop
        self._inspect_timer: Stoppable | None = None
        self.inspect_due: float | None = None  # when the inspector redraws (clock time)
        self._inspected = Throttle(self.clock, INSPECT_FOLLOW_DELAY)
        self._viewed = Throttle(self.clock, VIEW_EVERY)
        self.view_pending = False  # a stream redraw is due
        self.selection = {}  # seq -> entry: the messages chosen with space and v
        self._registry_reading = False

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        history = self.controller.history
        yield StatusBar(id="status")
        yield Static("", id="banner")
        with Horizontal(id="main"):
            yield SubscriptionList(history, id="subs")
            with Vertical(id="centre"):
                yield FilterInput(self.controller.recent_filters, id="filter")
                yield FilterStatus("", id="filter-status")
                yield StreamHeader(id="stream-header")
                yield StreamView(history, selection=self.selection, id="stream")
                yield Inspector(id="inspector")
        yield Static(CONNECT_HELP, id="connect-help")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#banner").display = False
        self.query_one("#filter").display = False
        self.query_one("#filter-status").display = False
        self.controller.history.background = True  # the filter opens payloads on the offload
        self.query_one("#connect-help").display = False
        subs = self.query_one(SubscriptionList)
        subs.set_names([], {})
        subs.set_auto_ack(self.controller.auto_ack)
        self.stream.focus()
        self.stream.paced = True
        inspector = self.query_one(Inspector)
        inspector.previous = self.previous_for
        inspector.offload = self.stream.offload = self.offload
        self._know_contacts()
        self.every(STATS_EVERY, self._tick)
        self.every(schemas.REFRESH_EVERY, self.read_registry)
        self.read_registry()
        self.show_status()

    def on_unmount(self) -> None:
        self.offload.close()

    def after(self, delay: float, callback: Callable[[], object]) -> Stoppable:
        """Run ``callback`` in ``delay`` seconds of the clock."""
        if isinstance(self.clock, TimerClock):
            return self.clock.call_later(delay, callback)
        return self.set_timer(delay, callback)

    def every(self, interval: float, callback: Callable[[], object]) -> None:
        """Run ``callback`` every ``interval`` seconds of the clock."""
        if not isinstance(self.clock, TimerClock):
            self.set_interval(interval, callback)
            return

        def again() -> None:
            callback()
            self.after(interval, again)

        self.after(interval, again)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Help and quit first, so a narrow footer keeps them; under a dialog only the
        app's keys (this screen's do nothing there)."""
        bindings = super().active_bindings
        if not self.is_active:
            return {key: active for key, active in bindings.items() if active.node is self.app}
        first = {k: a for k, a in bindings.items() if a.binding.id in ("help", "quit")}
        return first | {k: a for k, a in bindings.items() if k not in first}

    def key_bindings(self) -> list[Binding]:
        """This screen's bindings and the app's quit, with their keys as the keymap sets them."""
        keys = self.controller.settings.keys
        mine = [b for b in self.BINDINGS if isinstance(b, Binding)]
        apps = [b for b in self.app.BINDINGS if isinstance(b, Binding)]
        apps = [dataclasses.replace(b, action=f"app.{b.action}") for b in apps]
        out = []
        for item in [*mine, *LIST_KEYS, *apps]:
            key = keys.get(item.id or "", item.key)
            display = item.key_display if key == item.key else None
            out.append(dataclasses.replace(item, key=key, key_display=display))
        return out

    def _tick(self) -> None:
        self.tuning.observe(self.controller.history.received, STATS_EVERY)
        with contextlib.suppress(NoMatches):
            subs = self.query_one(SubscriptionList)
            if self.controller.lacks_subscriptions():
                subs.set_empty_hint(self.controller.no_subscriptions_hint())
            subs.update_counts(self.clock())
            self.show_status()

    def _know_contacts(self) -> None:
        """Senders with a contact name show by that name."""
        senders = self.controller.senders()
        self.stream.senders = senders
        self.query_one(Inspector).senders = senders
        self.stream.refresh()

    # -- what the runtime reports -------------------------------------------------
    def on_records_received(self, message: RecordsReceived) -> None:
        entries, problem = self.controller.receive(message.records, message.acked, message.failures)
        if problem:
            self.say(problem, "error")
        shown = self.query_one(Inspector).entry
        if shown is not None and any(e is shown for e in entries):
            self.inspect_now(shown)  # delivered again: its state and history now
        self._schedule_view()
        history = self.controller.history
        if history.scanning and self._scan_timer is None and not self._scan_waiting:
            self._scan_step()  # a large payload arrived under a text filter

    def _schedule_view(self) -> None:
        """Redraw the stream and totals soon: at most VIEW_EVERY apart under a firehose."""
        if self.view_pending:
            return
        self.view_pending = True
        wait = self._viewed.wait(VIEW_EVERY_FIREHOSE if self.tuning.frozen else VIEW_EVERY)
        if wait <= 0:
            self.call_later(self._update_view)
        else:
            self.after(wait, self._update_view)

    def _update_view(self) -> None:
        self.view_pending = False
        self._viewed.done()
        with contextlib.suppress(NoMatches):
            self.stream.data_changed()
            self.show_status()

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        notice = self.controller.connection(
            message.status, message.attempt, message.delay, message.reason
        )
        if notice:
            self.say(notice)
        if message.status == "connected":
            shared = self.controller.connected_notice()
            if shared:
                text = self.controller.note(shared, "warning")
                self.notify(text, severity="warning", timeout=15, markup=False)
        self.show_status()

    def on_notice(self, message: Notice) -> None:
        self.say(message.text, message.severity)

    def on_rtt_measured(self, message: RttMeasured) -> None:
        self.controller.measured(message.seconds)
        self.show_status()

    def on_session_ready(self, message: SessionReady) -> None:
        self.controller.ready(message.settings, message.public_key)
        self.read_registry()
        self._know_contacts()
        if not message.settings.subscribe:
            self.query_one(SubscriptionList).set_empty_hint(self.controller.no_subscriptions_hint())
        self.show_status()

    def on_demo_started(self, message: DemoStarted) -> None:
        state = self.controller
        if state.demo_started(message.settings):
            state.history.background = True
            self.stream.history = state.history
            self.query_one(SubscriptionList).history = state.history
            self.query_one(Inspector).previous = self.previous_for
        self.runtime.auto_ack = state.auto_ack
        subs = self.query_one(SubscriptionList)
        subs.set_auto_ack(state.auto_ack)
        subs.set_window(message.window)
        self._know_contacts()
        banner = self.query_one("#banner", Static)
        banner.update(Content(message.banner))
        banner.display = True
        self.show_status()

    def on_needs_connection(self, message: NeedsConnection) -> None:
        self.controller.offline()
        self.query_one("#main").display = False
        self.query_one("#connect-help").display = True
        self.show_status()

    def on_subscriptions_changed(self, message: SubscriptionsChanged) -> None:
        dropped = self.controller.subscribed(message.names, message.paused)
        subs = self.query_one(SubscriptionList)
        subs.set_empty_hint(self.controller.no_subscriptions_hint())
        subs.set_names(self.controller.subscriptions, message.paused)
        if self.controller.history.filter.name in dropped:
            self.apply_filter(name=None)  # the view goes with its subscription

    def read_registry(self) -> None:
        """Read the registered names and schemas on a thread (with an account key)."""
        settings = self.controller.settings
        if self._registry_reading or not schemas.can_read(settings):
            return
        self._registry_reading = True

        def work() -> None:
            try:
                names = schemas.read(settings)
            except Exception as exc:  # reported as a notice; the explorer goes on without
                self.post_message(RegistryFailed(error_text(exc)))
            else:
                self.post_message(RegistryRead(names))

        self.run_worker(work, thread=True, group="registry", exit_on_error=False)

    def on_registry_read(self, message: RegistryRead) -> None:
        self._registry_reading = False
        notice = self.controller.registry_read(message.names)
        inspector = self.query_one(Inspector)
        inspector.schemas = self.controller.registered
        if inspector.entry is not None:
            self.inspect_now(inspector.entry)  # its schema marks
        if notice:
            self.controller.note(notice)

    def on_registry_failed(self, message: RegistryFailed) -> None:
        self._registry_reading = False
        notice = self.controller.registry_failed(message.reason)
        if notice:
            self.say(notice, "warning")

    def on_offload_done(self, message: Offload.Done) -> None:
        message.deliver()

    # -- panes -----------------------------------------------------------------
    @on(StreamView.Selected)
    def _selected(self, event: StreamView.Selected) -> None:
        # following: redraw at most once a second; moved by the user: once the cursor rests
        following = self.stream.follow
        if event.entry is self.query_one(Inspector).entry:
            return  # moved with the inspector (``_inspect``)
        if following and self._inspect_timer is not None:
            return
        if self._inspect_timer is not None:
            self._inspect_timer.stop()
        delay = inspect_delay(following, self._inspected)
        self.inspect_due = self.clock() + delay
        self._inspect_timer = self.after(delay, self._inspect)

    @on(StreamView.Behind)
    def _behind(self, event: StreamView.Behind) -> None:
        if self._inspect_timer is None:  # not a move by hand: no need to wait for a rest
            delay = self._inspected.wait()
            self.inspect_due = self.clock() + delay
            self._inspect_timer = self.after(delay, self._inspect)

    def _inspect(self) -> None:
        self._inspect_timer = None
        self.inspect_due = None
        self._inspected.done()
        with contextlib.suppress(NoMatches):
            self.stream.catch_up()  # following: the highlight moves with the inspector
            self.inspect_now(self.selected)

    @on(StreamView.FollowChanged)
    def _follow_changed(self, event: StreamView.FollowChanged) -> None:
        self.show_status()

    @on(SubscriptionList.Chosen)
    def _chosen(self, event: SubscriptionList.Chosen) -> None:
        self.apply_filter(name=event.name)

    def on_key(self, event: Any) -> None:
        """Esc, from anywhere on this screen: the text filter goes, then the chosen name's."""
        if event.key != "escape":
            return
        filter_input = self.query_one("#filter", Input)
        if filter_input.display or self.controller.history.filter.text:
            filter_input.value = ""
            filter_input.display = False
            self.query_one("#filter-status").display = False
            self.apply_filter(text="")
            self.stream.focus()
        elif self.controller.history.filter.name:
            self.apply_filter(name=None)
        else:
            return
        event.stop()

    def select_idem(self, idem: str) -> None:
        entry = self.controller.history.by_idem.get(idem)
        if entry is None:
            self.say(f"{idem} is not held any more", "warning")
            return
        if not self.stream.select_entry(entry):
            self.apply_filter(name=None, text="")
            with self.query_one("#filter", Input).prevent(Input.Changed):
                self.query_one("#filter", Input).value = ""
            self.query_one("#filter-status").display = False
            self.stream.select_entry(entry)
        self.inspect_now(entry)

    # -- view actions ----------------------------------------------------------------
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

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.display = True
        filter_input.focus()

    def action_tab(self, number: int) -> None:
        """Show the inspector's tab ``number`` (1 to 5)."""
        self.query_one(Inspector).choose_tab(number)

    def action_zoom(self) -> None:
        """The inspector fills the screen, or goes back (z or Esc)."""
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.query_one(Inspector), container=False)

    def action_fold(self) -> None:
        """The subscriptions list folds away, and comes back."""
        subs = self.query_one(SubscriptionList)
        subs.display = not subs.display
        if not subs.display and self.focused is subs:
            self.stream.focus()

    def on_resize(self, event: Any) -> None:
        self.query_one(SubscriptionList).fit(self.app.size.width)  # not a dialog's size

    def action_help(self) -> None:
        from ensync_tui.app.screens.help import HelpScreen

        palette = Binding(
            self.app.COMMAND_PALETTE_BINDING,
            "app.command_palette",
            "Command palette",
            id="command-palette",
        )
        self.app.push_screen(HelpScreen([*self.key_bindings(), palette]))
