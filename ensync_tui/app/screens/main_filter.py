"""The main screen's filter: ``/`` and what is typed there, the scan of the held
history, and the keys that make a filter from what the inspector shows.

``FilterActions`` sits between ``EngineActions`` (``main_actions``) and
``MainScreen`` (``main``). A filter is read as it is typed: while it does not read,
the mistake shows under the input and the last filter that read keeps applying.
The history is searched in slices on the UI loop; payloads a filter needs are
opened on the offload's "filter" lane, a batch at a time, so keys stay answered,
and a newer filter makes the older scan's work stale.
"""

from __future__ import annotations

from textual import on
from textual.widgets import Input, TabbedContent

from ensync_tui.app.compare import previous_by
from ensync_tui.app.filtering import check
from ensync_tui.app.history import Entry
from ensync_tui.app.offload import Offload
from ensync_tui.app.pacing import Stoppable
from ensync_tui.app.screens.main_actions import EngineActions
from ensync_tui.app.widgets import Inspector, SubscriptionList
from ensync_tui.app.widgets.filter_bar import FilterInput, FilterStatus, remember
from ensync_tui.query import QueryError, field_filter
from ensync_tui.query.paths import path_to
from ensync_tui.safetext import visible

__all__ = ["SCAN_STEP", "FilterActions"]

SCAN_STEP = 0.01  # seconds between two slices of a filter going through the history


class FilterActions(EngineActions):
    """The filter input, its scan, and filters made from the inspector."""

    offload: Offload
    _scan_timer: Stoppable | None = None
    _scan_waiting = False  # the filter waits for payloads being opened
    _scan_generation = 0  # a new filter's scan makes the older one's results stale

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        error = check(event.value)
        if error is not None:  # the last filter that read keeps applying
            self.query_one(FilterStatus).show_error(event.value, error)
            return
        self.apply_filter(text=event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if check(event.value) is None:
            remember(self.controller.recent_filters, event.value)
            self.query_one(FilterInput).forget_position()
        if not event.value:
            self.query_one("#filter").display = False
            self.query_one("#filter-status").display = False
        self.stream.focus()

    def apply_filter(self, name: str | bool | None = False, text: str | None = None) -> None:
        """Change the name (None = all) and/or the filter; scans the history in slices.

        A filter that does not read is refused with its mistake under the input."""
        try:
            self.controller.set_filter(name, text)
        except QueryError as exc:
            self.query_one(FilterStatus).show_error(text or "", exc)
            return
        self.query_one(SubscriptionList).show_chosen(self.controller.history.filter.name)
        self._scan_generation += 1
        self._scan_waiting = False
        self._scan_step()

    def use_filter(self, text: str, name: str | bool | None = False) -> None:
        """Show ``text`` in the filter input and apply it (and remember it)."""
        filter_input = self.query_one(FilterInput)
        filter_input.display = True
        with filter_input.prevent(Input.Changed):
            filter_input.value = text
        filter_input.forget_position()
        if check(text) is None:
            remember(self.controller.recent_filters, text)
        self.apply_filter(name=name, text=text)

    def action_filter_by_value(self) -> None:
        """The stream, across all names, filtered by the Tree tab's field and its value
        (``$.orderId == "ord-1"``; an array's items by any index, ``$.lines[*].sku``)."""
        inspector = self.query_one(Inspector)
        if inspector.query_one(TabbedContent).active != "tab-tree":
            self.say("= filters by a field of the Tree tab: open it and choose a field")
            return
        chosen = inspector.chosen_field()
        if chosen is None:
            self.say("= filters by a field: move the Tree tab's cursor to one")
            return
        keys, value = chosen
        text = field_filter([None if isinstance(k, int) else k for k in keys], value)
        self.use_filter(text, name=None)
        self.say(f"filter: {visible(text)}")

    def previous_for(self, entry: Entry) -> Entry | None:
        """What the Changes tab compares ``entry`` with (by the name's key path, if set)."""
        history = self.controller.history
        path = self.query_one(Inspector).compare_by.get(entry.name)
        if not path:
            return history.previous_of(entry)
        return previous_by(history.previous_of, entry, path, history.secret_key)

    def action_compare_by(self) -> None:
        """K: choose the key path the Changes tab compares this message's name by."""
        from ensync_tui.app.screens.compare import CompareScreen

        inspector = self.query_one(Inspector)
        entry = inspector.entry or self.stream.selected
        if entry is None:
            self.say("no record selected", "warning")
            return
        name = entry.name
        suggested = inspector.compare_by.get(name, "")
        chosen = inspector.chosen_field() if not suggested else None
        if chosen is not None:  # the Tree tab's field under the cursor
            suggested = path_to(list(chosen[0]))

        def done(path: str | None) -> None:
            if path is None:
                return
            if path:
                inspector.compare_by[name] = path
                self.say(f"Changes compares {visible(name)} by {visible(path)}")
            else:
                inspector.compare_by.pop(name, None)
                self.say(f"Changes compares {visible(name)} with the previous one")
            inspector.query_one(TabbedContent).active = "tab-diff"
            self.inspect_now(inspector.entry or entry)

        self.app.push_screen(CompareScreen(name, suggested), done)

    def _scan_step(self) -> None:
        history = self.controller.history
        done = history.scan(5_000)
        self.stream.data_changed()
        self.show_status()
        self._show_filter_status()
        if self._scan_timer is not None:
            self._scan_timer.stop()
            self._scan_timer = None
        waiting, key, current = history.waiting, history.secret_key, history.filter
        if waiting:  # open those payloads off the UI loop, then go on
            self._scan_waiting = True
            generation = self._scan_generation

            def opened(_: object) -> None:
                if generation != self._scan_generation:
                    return  # a newer filter has its own scan going
                self._scan_waiting = False
                current = self.controller.history
                if current is history and history.scanning and self._scan_timer is None:
                    self._scan_step()

            def work() -> None:
                if generation == self._scan_generation:  # else a newer filter came
                    current.open(waiting, key)

            job = f"filter:{generation}:{waiting[0].seq}"
            self.offload.latest(job, work, opened, opened, lane="filter")
        elif not done:  # the UI loop's own pace: not a throttle
            self._scan_timer = self.set_timer(SCAN_STEP, self._scan_step)

    def _show_filter_status(self) -> None:
        history = self.controller.history
        status = self.query_one(FilterStatus)
        if status.has_class("-error") and check(self.query_one(FilterInput).value) is not None:
            return  # the mistake stays in view while the last filter that read still runs
        if not self.query_one(FilterInput).display or history.filter.node is None:
            status.display = False
            return
        if history.scanning:
            done, total = history.scan_progress()
            status.show_progress(len(history), done, total, bool(history.waiting))
        else:
            status.show_count(len(history), history.held)
