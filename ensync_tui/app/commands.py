"""Command palette: every action, message names (filter / subscribe) and recent idems."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from ensync_tui.app.app import EnsyncApp

RECENT_IDEMS = 50


class EnsyncCommands(Provider):
    """Commands built from the app's bindings and what it has seen."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: EnsyncApp = self.app  # type: ignore[assignment]
        items: list[tuple[str, Callable[[], Any], str]] = []
        for binding in app.action_bindings():
            items.append(
                (
                    binding.description,
                    partial(app.run_action, binding.action),
                    f"key {binding.key_display or binding.key}",
                )
            )
        for name in app.known_names():
            items.append((f"Filter: {name}", partial(app.filter_name, name), "show only this name"))
            if name not in app.subscribed_names():
                items.append(
                    (f"Subscribe: {name}", partial(app.subscribe_to, name), "subscribe to it")
                )
        for name, idem in app.recent_idems(RECENT_IDEMS):
            items.append((f"Select: {idem}", partial(app.select_idem, idem), name))
            items.append((f"Replay: {idem}", partial(app.replay_idem, name, idem), name))
        return items

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
