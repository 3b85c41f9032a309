"""The main screen's keys that ask the engine something, and what they tell the user.

``EngineActions`` is the base of ``MainScreen`` (``screens/main``), which composes
the panes these read (the stream, the inspector, the subscriptions list). While the
engine is away an action is refused at once, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches
from textual.screen import Screen

from ensync_tui.app.controller import Controller, Offline
from ensync_tui.app.history import Entry, MessageState
from ensync_tui.app.runtime import Runtime
from ensync_tui.app.widgets import Inspector, StatusBar, StreamView, SubscriptionList
from ensync_tui.errors import error_text

if TYPE_CHECKING:
    from ensync_tui.client.publishing import Message

__all__ = ["NO_SUBSCRIPTION", "EngineActions"]

NO_SUBSCRIPTION = "select a subscription in the list first (shift+tab moves there)"


class EngineActions(Screen[None]):
    """Ack, defer, discard, pause and resume, subscribe and unsubscribe, replay, publish."""

    def __init__(self, controller: Controller, runtime: Runtime) -> None:
        super().__init__()
        self.controller = controller
        self.runtime = runtime

    def say(self, text: str, severity: str = "information") -> None:
        """A notification; wire text in it shows its control characters as escapes."""
        text = self.controller.note(text, severity)
        self.notify(text, severity=severity, markup=False)  # type: ignore[arg-type]

    @property
    def stream(self) -> StreamView:
        return self.query_one(StreamView)

    @property
    def selected(self) -> Entry | None:
        return self.stream.selected

    def show_status(self) -> None:
        with contextlib.suppress(NoMatches):
            status = self.controller.project(self.stream.follow)
            self.query_one(StatusBar).show_status(status)

    def inspect_now(self, entry: Entry | None) -> None:
        self.query_one(Inspector).show(entry, self.controller.history.secret_key)

    def show_replayed(self, message: dict[str, Any]) -> None:
        """A replay result: mark it replayed (adding it when not held) and inspect it."""
        entry = self.controller.replayed(message["record"])
        self.stream.data_changed()
        self.stream.select_entry(entry)
        self.inspect_now(entry)
        self.show_status()

    # -- engine actions ------------------------------------------------------------
    def _refused(self, label: str) -> bool:
        """Say why ``label`` cannot run now; False when connected."""
        refusal = self.controller.refusal(label)
        if refusal:
            self.say(refusal, "warning")
        return refusal is not None

    async def publish(self, message: Message) -> list[dict[str, Any]]:
        """The composer's send: refused at once while the engine is away."""
        reason = self.controller.offline_reason()
        if reason:
            raise Offline(reason)
        return await self.runtime.publish(message)

    async def replay(self, name: str, idem: str) -> dict[str, Any]:
        """Replay search's fetch: refused at once while the engine is away."""
        reason = self.controller.offline_reason()
        if reason:
            raise Offline(reason)
        return await self.runtime.replay(name, idem)

    def _run(self, job: Coroutine[Any, Any, Any], label: str) -> None:
        """Run an engine action without blocking the UI; report the outcome.

        While the engine is away the action is refused at once: the client would
        otherwise hold it until the request times out, and the key would seem dead.
        """
        if self._refused(label):
            job.close()
            return

        async def runner() -> None:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.say(f"{label} failed: {error_text(exc)}", "error")

        self.run_worker(runner(), group="actions", exit_on_error=False)

    def _need_selected(self) -> Entry | None:
        entry = self.selected
        if entry is None:
            self.say("no record selected", "warning")
        elif self.query_one(Inspector).entry is not entry:
            # following a busy stream, the inspector trails the cursor by up to a
            # second: show the record the key acts on before acting on it
            self.inspect_now(entry)
        return entry

    def _subscription_target(self) -> str | None:
        name = self.query_one(SubscriptionList).highlighted_name
        if name is None and self.selected is not None:
            name = self.selected.name
        if name is None:
            self.say(NO_SUBSCRIPTION, "warning")
        return name

    def mark(self, idem: str, state: MessageState) -> None:
        self.controller.history.set_state(idem, state)
        self.stream.refresh()
        if self.selected is not None and self.selected.idem == idem:
            self.inspect_now(self.selected)
        self.show_status()

    def action_ack(self) -> None:
        entry = self._need_selected()
        if entry is None:
            return

        async def job() -> None:
            await self.runtime.ack(entry.name, entry.idem, entry.block)
            self.mark(entry.idem, MessageState.ACKED)
            self.say(f"acked {entry.idem}")

        self._run(job(), "ack")

    def action_reconnect(self) -> None:
        """Try the engine again now, not at the end of the backoff wait."""
        why = self.controller.reconnect_refusal()
        if why:
            self.say(why, "warning")
            return

        async def job() -> None:
            if await self.runtime.reconnect_now():
                self.say("reconnecting now")
            else:
                self.say("an attempt to connect is already under way")

        self.run_worker(job(), group="actions", exit_on_error=False)

    def action_toggle_auto_ack(self) -> None:
        self.say(self.controller.toggle_auto_ack())
        self.runtime.auto_ack = self.controller.auto_ack
        self.query_one(SubscriptionList).set_auto_ack(self.controller.auto_ack)
        self.show_status()

    def action_pause(self) -> None:
        name = self._subscription_target()
        if name is None:
            return
        if name in self.controller.paused:

            async def resume() -> None:
                await self.runtime.resume(name)
                self.say(f"resumed {name}")

            self._run(resume(), f"resume {name}")
            return
        if self._refused(f"pause {name}"):
            return
        from ensync_tui.app.screens.prompts import PauseScreen

        def done(reason: str | None) -> None:
            if reason is None:
                return

            async def pause() -> None:
                await self.runtime.pause(name, reason)
                self.say(f"paused {name}")

            self._run(pause(), f"pause {name}")

        self.app.push_screen(PauseScreen(name), done)

    def action_defer(self) -> None:
        entry = self._need_selected()
        if entry is None or self._refused("defer"):
            return
        from ensync_tui.app.screens.prompts import DeferScreen

        def done(answer: tuple[int, str] | None) -> None:
            if answer is None:
                return
            delay_ms, reason = answer

            async def defer() -> None:
                await self.runtime.defer(entry.name, entry.idem, delay_ms, reason)
                self.mark(entry.idem, MessageState.DEFERRED)
                self.say(f"deferred {entry.idem} for {delay_ms / 1000:g} s")

            self._run(defer(), "defer")

        self.app.push_screen(DeferScreen(entry.idem), done)

    def action_discard(self) -> None:
        entry = self._need_selected()
        if entry is None or self._refused("discard"):
            return
        from ensync_tui.app.screens.prompts import DiscardScreen

        def done(reason: str | None) -> None:
            if reason is None:
                return

            async def discard() -> None:
                await self.runtime.discard(entry.name, entry.idem, reason)
                self.mark(entry.idem, MessageState.DISCARDED)
                self.say(f"discarded {entry.idem}")

            self._run(discard(), "discard")

        self.app.push_screen(DiscardScreen(entry.idem), done)

    def action_replay(self) -> None:
        if self._refused("replay"):
            return
        from ensync_tui.app.screens.replay import ReplayScreen

        state = self.controller
        self.app.push_screen(
            ReplayScreen(state.known_names(), state.replay_history, self.replay, self.show_replayed)
        )

    def replay_idem(self, name: str, idem: str) -> None:
        async def job() -> None:
            message = await self.runtime.replay(name, idem)
            self.show_replayed(message)
            self.say(f"replayed {idem}")

        self._run(job(), f"replay {idem}")

    def action_publish(self) -> None:
        if self._refused("publish"):
            return
        self.open_composer()

    def open_composer(self, form: dict[str, Any] | None = None) -> None:
        """The composer, its form filled from ``form`` (a message to re-publish)."""
        from ensync_tui.app.screens.composer import ComposerScreen

        state = self.controller
        contacts = dict(state.settings.contacts)
        entry = self.selected
        value = entry.decrypt(state.history.secret_key) if entry is not None else None
        self.app.push_screen(
            ComposerScreen(
                state.known_names(),
                contacts,
                state.public_key,
                state.sent_history,
                self.publish,
                schemas=state.registered,
                form=form,
                drafts=state.drafts,
                selected=(entry.name, value) if entry is not None and not entry.error else None,
            )
        )

    def action_subscribe(self) -> None:
        if self._refused("subscribe"):
            return
        from ensync_tui.app.screens.prompts import SubscribeScreen

        def done(names: list[str] | None) -> None:
            for name in names or []:
                self.subscribe_to(name)

        state = self.controller
        self.app.push_screen(SubscribeScreen(state.known_names(), state.subscriptions), done)

    def subscribe_to(self, name: str) -> None:
        if name in self.controller.subscriptions:
            self.say(f"already subscribed to {name}")
            return

        async def job() -> None:
            await self.runtime.subscribe(name)
            self.say(f"subscribed to {name}")

        self._run(job(), f"subscribe {name}")

    def action_unsubscribe(self) -> None:
        name = self.query_one(SubscriptionList).highlighted_name
        if name is None:
            self.say(NO_SUBSCRIPTION, "warning")
            return

        async def job() -> None:
            await self.runtime.unsubscribe(name)
            self.say(f"unsubscribed from {name}")

        self._run(job(), f"unsubscribe {name}")
