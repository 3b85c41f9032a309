"""Command palette: every action, message names (filter / subscribe), recent filters
and recent idems.

Names and idems come from the wire: they are shown with control characters as
escapes, and never as markup (the palette reads a plain ``str`` as markup, so
what it shows is built as Content).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from ensync_tui.app.widgets.stream import MOVING
from ensync_tui.safetext import visible

if TYPE_CHECKING:
    from ensync_tui.app.screens.main import MainScreen

RECENT_IDEMS = 50


def _help(text: str) -> str:
    # the palette turns a help str into markup; Content it shows as it is
    return cast(str, Content(visible(text)))


def highlight(matcher: Matcher, text: str) -> Content:
    """``text`` with the matched characters marked (Matcher.highlight reads it as markup)."""
    content = Content(text)
    _, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class EnsyncCommands(Provider):
    """Commands built from the main screen's bindings and what it has seen (the
    main screen lists this provider, so it is asked only there)."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        main: MainScreen = self.screen  # type: ignore[assignment]
        state = main.controller
        items: list[tuple[str, Callable[[], Any], str]] = []
        for binding in main.key_bindings():
            if binding.group is MOVING:  # moving a list's cursor is for keys, not commands
                continue
            items.append(
                (
                    binding.description,
                    partial(main.run_action, binding.action),
                    f"key {binding.key_display or binding.key}",
                )
            )
        items.append(
            (
                "Save payload of selected message",
                main.save_selected_payload,
                "under a name; ctrl+o in the composer loads it",
            )
        )
        subscribed = set(state.subscriptions)
        for name in state.known_names():
            shown = visible(name)
            items.append(
                (f"Filter: {shown}", partial(main.apply_filter, name=name), "show only this name")
            )
            if name not in subscribed:
                items.append(
                    (f"Subscribe: {shown}", partial(main.subscribe_to, name), "subscribe to it")
                )
        for text in reversed(state.recent_filters):
            items.append((f"Filter: {visible(text)}", partial(main.use_filter, text), "recent"))
        for name, idem in state.recent_idems(RECENT_IDEMS):
            shown = visible(idem)
            items.append((f"Select: {shown}", partial(main.select_idem, idem), name))
            items.append((f"Replay: {shown}", partial(main.replay_idem, name, idem), name))
        return items

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(Content(text), command, text=text, help=_help(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                shown = highlight(matcher, text)
                yield Hit(score, shown, command, text=text, help=_help(help_text))
