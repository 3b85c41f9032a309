"""The config's [keys] and theme: unknown binding ids, two bindings on one key and
unknown themes are refused with the file and key named; the theme chosen is kept."""

from __future__ import annotations

import argparse

import pytest
from textual.widgets import Static

from ensync_tui.app import EnsyncApp
from ensync_tui.app.keymap import binding_ids, check_config
from ensync_tui.app.screens.help import HelpScreen
from ensync_tui.cli.explorer import check_keys_and_theme
from ensync_tui.errors import ConfigError
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, wait_for


def test_an_unknown_binding_id_is_refused_with_the_file_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        check_config([("ensync.toml", {"ackk": "t"}, None)])
    message = str(caught.value)
    assert message.startswith("ensync.toml: keys.ackk: unknown binding id (known: ")
    assert "ack, " in message and "quit" in message and "list-up" in message


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ({"ack": "k", "quit": "k"}, "keys.ack: 'k' is list-up's key on the main screen"),
        ({"ack": "q"}, "keys.ack: 'q' is quit's key on the main screen"),
        ({"list-up": "t", "ack": "k", "quit": "k"}, "keys.quit: 'k' is ack's key"),
        ({"ack": "up"}, "keys.ack: 'up' is taken by moving and focus on the main screen"),
        ({"composer.send": "ctrl+t"}, "'ctrl+t' is composer.template's key on the composer"),
    ],
)
def test_two_bindings_on_one_key_are_refused(keys: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_config([("a.toml", {}, None), ("b.toml", keys, None)])
    assert str(caught.value).startswith("b.toml: ") and error in str(caught.value)


def test_moves_that_free_their_keys_and_known_themes_pass() -> None:
    check_config([("a.toml", {"list-up": "t", "ack": "k", "quit": "ctrl+q"}, "nord")])
    check_config([("a.toml", {}, "gruvbox"), ("b.toml", {"help": "h"}, None)])
    with pytest.raises(ConfigError, match=r"^a.toml: theme: unknown theme 'nordd' \(known: "):
        check_config([("a.toml", {}, "nordd")])
    assert binding_ids()["ack"] == "a" and binding_ids()["composer.clear-payload"] == "ctrl+l"


def test_the_explorer_refuses_a_config_with_a_conflict(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mine.toml"
    path.write_text('theme = "nord"\n[keys]\nack = "k"\nquit = "k"\n')
    with pytest.raises(ConfigError, match=r"mine.toml: keys.ack: 'k' is list-up's key"):
        check_keys_and_theme(argparse.Namespace(config=str(path)))
    path.write_text('theme = "nord"\n[keys]\nack = "t"\n')
    check_keys_and_theme(argparse.Namespace(config=str(path)))


async def test_help_lists_the_binding_ids() -> None:
    app = EnsyncApp(Settings(), start_session=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        title = str(app.screen.query_one("#ids-title", Static).render())
        assert title == "Binding ids, for the config's [keys] table"
        text = str(app.screen.query_one("#ids", Static).render())
        assert "ack = a" in text and "list-up = k" in text and "tab-1 = 1" in text
        assert "quit = q" in text


async def test_the_theme_is_the_configs_or_the_one_last_chosen(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    async def run(configured: str | None, choose: str | None = None) -> str:
        app = EnsyncApp(Settings(theme=configured), start_session=False, remember=True)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            started = app.theme
            if choose:
                app.theme = choose  # as the palette's "Change theme" does
                await pilot.pause()
        return started

    assert await run("nord") == "nord"
    assert await run("nord", choose="dracula") == "nord"
    assert await run("nord") == "dracula"  # the last choice, the config unchanged since
    assert await run("gruvbox") == "gruvbox"  # the config's theme changed: it wins
    assert await run(None, choose="monokai") == "gruvbox"
    assert await run(None) == "monokai"
    assert (tmp_path / "state" / "ensync-tui" / "theme.json").is_file()
