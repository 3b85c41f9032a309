"""The main screen's selection and redrive: space, v and V choose messages; a, d, x
and e then act on all of them (asking first, with progress and every failure
listed); R re-publishes the message under the cursor through the composer, or
every selected one as it was.

``SelectionActions`` sits between ``FilterActions`` (``main_filter``) and
``MainScreen`` (``main``). The selection is kept by seq (a message's place in the
history) and stays until V clears it, also when the filter changes.
"""

from __future__ import annotations

from typing import Any

from ensync_tui.app import transfer
from ensync_tui.app.history import Entry, MessageState
from ensync_tui.app.screens.main_filter import FilterActions
from ensync_tui.errors import error_text
from ensync_tui.safetext import visible

__all__ = ["SelectionActions"]


class SelectionActions(FilterActions):
    """Messages chosen by hand, and the actions that take them all."""

    selection: dict[int, Entry]

    def selected_entries(self) -> list[Entry]:
        return [self.selection[seq] for seq in sorted(self.selection)]

    def _selection_changed(self) -> None:
        self.stream.refresh()
        count = len(self.selection)
        self.say(f"{count:,} selected" if count else "selection cleared")

    def action_toggle_select(self) -> None:
        entry = self.selected
        if entry is None:
            self.say("no record selected", "warning")
            return
        if self.selection.pop(entry.seq, None) is None:
            self.selection[entry.seq] = entry
        self.stream.action_cursor(1)
        self._selection_changed()

    def action_select_view(self) -> None:
        history = self.controller.history
        for entry in history.rows(0, len(history)):
            self.selection[entry.seq] = entry
        self._selection_changed()

    def action_clear_selection(self) -> None:
        self.selection.clear()
        self._selection_changed()

    # -- the actions, on the selection when there is one ---------------------------
    def _batch(self, verb: str, label: str, job: Any, note: str = "") -> None:
        from ensync_tui.app.screens.batch import BatchScreen

        if self._refused(label):
            return
        entries = self.selected_entries()

        def finished(result: tuple[int, int] | None) -> None:
            self.stream.refresh()
            self.show_status()
            if self.selected is not None:
                self.inspect_now(self.selected)
            if result is not None and result != (0, 0):
                done, failed = result
                self.say(f"{verb.lower()}: {done:,} done, {failed:,} failed")

        self.app.push_screen(BatchScreen(verb, entries, job, note), finished)

    def _set(self, entry: Entry, state: MessageState) -> None:
        self.controller.history.set_state(entry.idem, state)
        self.stream.refresh()

    def action_ack(self) -> None:
        if not self.selection:
            super().action_ack()
            return

        async def ack(entry: Entry) -> None:
            await self.runtime.ack(entry.name, entry.idem, entry.block)
            self._set(entry, MessageState.ACKED)

        self._batch("Ack", "ack", ack)

    def action_defer(self) -> None:
        if not self.selection:
            super().action_defer()
            return
        if self._refused("defer"):
            return
        from ensync_tui.app.screens.prompts import DeferScreen

        def asked(answer: tuple[int, str] | None) -> None:
            if answer is None:
                return
            delay_ms, reason = answer

            async def defer(entry: Entry) -> None:
                await self.runtime.defer(entry.name, entry.idem, delay_ms, reason)
                self._set(entry, MessageState.DEFERRED)

            self._batch("Defer", "defer", defer, f"(for {delay_ms / 1000:g} s)")

        self.app.push_screen(DeferScreen(f"the {len(self.selection):,} selected"), asked)

    def action_discard(self) -> None:
        if not self.selection:
            super().action_discard()
            return
        if self._refused("discard"):
            return
        from ensync_tui.app.screens.prompts import DiscardScreen

        def asked(reason: str | None) -> None:
            if reason is None:
                return

            async def discard(entry: Entry) -> None:
                await self.runtime.discard(entry.name, entry.idem, reason)
                self._set(entry, MessageState.DISCARDED)

            self._batch("Discard", "discard", discard, "The engine will not deliver them again.")

        self.app.push_screen(DiscardScreen(f"the {len(self.selection):,} selected"), asked)

    def action_export(self) -> None:
        """The messages in view, or the selection when there is one."""
        if not self.selection:
            transfer.export_view(self)  # type: ignore[arg-type]
            return
        chosen = self.selected_entries()
        transfer.export_view(self, chosen, "the selection")  # type: ignore[arg-type]

    # -- redrive -------------------------------------------------------------------
    def action_redrive(self) -> None:
        """R: the composer with the message under the cursor, or the selection sent again."""
        from ensync_tui.app.redrive import redrive_of  # the client's drafts: not at start

        state = self.controller
        contacts, me = dict(state.settings.contacts), state.public_key
        key = state.history.secret_key
        if self.selection:

            async def send(entry: Entry) -> str:
                message = redrive_of(entry, key, contacts, me).message(contacts, me)
                answers = await self.publish(message)
                idems = ", ".join(visible(str(a.get("idem", "?"))) for a in answers)
                return f"✓ {visible(entry.idem)} → {idems}"

            self._batch("Re-publish", "publish", send, "Each goes again to its recipients.")
            return
        entry = self._need_selected()
        if entry is None:
            return
        try:
            redrive = redrive_of(entry, key, contacts, me)
        except ValueError as exc:
            self.say(error_text(exc), "warning")
            return
        self.open_composer(redrive.form())

    def save_selected_payload(self) -> None:
        """From the palette: keep the message under the cursor as a saved payload."""
        from ensync_tui.app.redrive import redrive_of
        from ensync_tui.app.screens.saved import ask_save

        entry = self._need_selected()
        if entry is None:
            return
        state = self.controller
        try:
            form = redrive_of(
                entry, state.history.secret_key, dict(state.settings.contacts), state.public_key
            ).form()
        except ValueError as exc:
            self.say(error_text(exc), "warning")
            return
        ask_save(self, entry.name, form)
