"""What a config may set for the explorer's look and keys: ``[keys]`` (binding id = key)
and ``theme``. An unknown binding id, two bindings on one key of a screen and an unknown
theme are refused, naming the file and the key; the theme last chosen in the palette is
remembered in the user state folder."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from textual.binding import Binding, BindingType

from ensync_tui.errors import ConfigError

__all__ = ["QUIT", "binding_ids", "check_config", "remember_theme", "remembered_theme"]

QUIT = Binding("q", "quit", "Quit", id="quit")
# keys the main screen uses without a binding id: never given to one
FIXED = ["up", "down", "pageup", "pagedown", "home", "end", "tab", "shift+tab", "escape", "enter"]
FIXED.append("ctrl+p")


def _bindings(items: Iterable[BindingType]) -> list[Binding]:
    return [b for b in items if isinstance(b, Binding) and b.id]


def scopes() -> dict[str, list[Binding]]:
    """The bindings active together, by screen."""
    from ensync_tui.app.screens.composer import ComposerScreen
    from ensync_tui.app.screens.help import HelpScreen
    from ensync_tui.app.screens.main import MainScreen
    from ensync_tui.app.screens.prompts import PromptScreen
    from ensync_tui.app.screens.replay import ReplayScreen
    from ensync_tui.app.screens.saved import ConfirmScreen, SavedPayloadsScreen
    from ensync_tui.app.widgets import LIST_KEYS

    return {
        "the main screen": _bindings([*MainScreen.BINDINGS, *LIST_KEYS, QUIT]),
        "the composer": _bindings(ComposerScreen.BINDINGS),
        "replay search": _bindings(ReplayScreen.BINDINGS),
        "the dialogs": _bindings(PromptScreen.BINDINGS),
        "saved payloads": _bindings(SavedPayloadsScreen.BINDINGS),
        "a confirmation": _bindings([*PromptScreen.BINDINGS, *ConfirmScreen.BINDINGS]),
        "help": _bindings(HelpScreen.BINDINGS),
    }


def binding_ids() -> dict[str, str]:
    """Every binding id with its default key, in the order help lists them."""
    return {b.id or "": b.key for scope in scopes().values() for b in scope}


def _keys(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def check_config(files: list[tuple[str, dict[str, str], str | None]]) -> None:
    """Refuse what (label, [keys], theme) of the config files set wrongly."""
    from textual.theme import BUILTIN_THEMES

    for label, _, theme in files:
        if theme and theme not in BUILTIN_THEMES:
            known = ", ".join(sorted(BUILTIN_THEMES))
            raise ConfigError(f"{label}: theme: unknown theme {theme!r} (known: {known})")
    if not any(keys for _, keys, _ in files):
        return
    all_scopes = scopes()
    known_ids = {b.id for scope in all_scopes.values() for b in scope}
    given: dict[str, tuple[str, str]] = {}  # id -> (key, the file that set it last)
    for label, keys, _ in files:
        for ident, key in keys.items():
            if ident not in known_ids:
                listed = ", ".join(sorted(i for i in known_ids if i))
                raise ConfigError(f"{label}: keys.{ident}: unknown binding id (known: {listed})")
            if not _keys(key):
                raise ConfigError(f"{label}: keys.{ident}: give a key")
            given[ident] = (key, label)
    for where, scope in all_scopes.items():
        taken: dict[str, str] = {k: "" for k in FIXED} if where == "the main screen" else {}
        for b in sorted(scope, key=lambda b: b.id in given):  # the defaults first
            ident = b.id or ""
            key, label = given.get(ident, (b.key, ""))
            for one in _keys(key):
                other = taken.setdefault(one, ident)
                if other != ident:
                    whose = f"{other}'s key" if other else "taken by moving and focus"
                    raise ConfigError(f"{label}: keys.{ident}: {one!r} is {whose} on {where}")


def _state_file() -> Path:
    import platformdirs

    return platformdirs.user_state_path("ensync-tui") / "theme.json"


def remembered_theme(configured: str | None) -> str | None:
    """The theme to start with: the one last chosen in the explorer, unless the config's
    ``theme`` changed since that choice (then the config's); else the config's."""
    try:
        saved = json.loads(_state_file().read_text(encoding="utf-8"))
        chosen, under = str(saved["theme"]), saved.get("config")
    except (OSError, ValueError, KeyError, TypeError):
        return configured
    if configured and under != configured:
        return configured
    return chosen


def remember_theme(theme: str, configured: str | None) -> None:
    """Keep the theme chosen (with the config's at the time); a failure loses only that."""
    path = _state_file()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        part.write_text(json.dumps({"theme": theme, "config": configured}), encoding="utf-8")
        os.replace(part, path)
    except OSError:
        pass
