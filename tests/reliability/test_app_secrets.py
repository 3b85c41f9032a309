"""Security scan of the explorer: nothing it prints, logs or saves shows a secret.

The explorer runs against a hostile engine, opens every record in every tab,
copies, exports, opens dialogs and the palette, and finally crashes on
purpose in a handler whose locals hold the secret key. Then everything it
wrote is scanned for the access key and the app secret key, in full and for
any run of 12 of their characters: the terminal (stdout, stderr), Textual's
log file, the client's debug log, the crash report, the export, the
clipboard, the notifications and every screen it showed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import textual.constants
from textual.widgets import Input, TabbedContent

from ensync_tui.app import EnsyncApp
from ensync_tui.app.views import TABS
from ensync_tui.app.widgets import Inspector
from ensync_tui.client import crypto
from ensync_tui.settings import Settings
from tests.app.conftest import wait_for
from tests.app.screen import shot
from tests.client.scripted import ScriptedServer
from tests.hostile import hostile_records, record
from tests.leaks import assert_no_secret

NAME = "hostile/feed"
ACCESS_KEY = "scan-access-key-Kq93vLx0Pz7Tb2"


async def test_nothing_the_explorer_writes_shows_a_secret(tmp_path, monkeypatch, capfd, figures):
    import pyperclip

    public, secret = crypto.generate_keypair()
    textual_log = tmp_path / "textual.log"
    monkeypatch.setattr(textual.constants, "LOG_FILE", str(textual_log))
    client_log = tmp_path / "client.log"
    handler = logging.FileHandler(client_log)
    logger = logging.getLogger("ensync_tui")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)

    def failing_show(self: Inspector, entry: object, secret_key: str | None) -> None:
        key_in_a_local = secret_key
        raise RuntimeError(f"the inspector failed with {str(key_in_a_local)[:30]}")

    screens: list[str] = []
    try:
        async with ScriptedServer(public) as server:
            settings = Settings(
                url=server.url, access_key=ACCESS_KEY, app_secret_key=secret, subscribe=[NAME]
            )
            app = EnsyncApp(settings)
            app.animation_level = "none"
            with pytest.raises(RuntimeError, match="the inspector failed"):
                async with app.run_test(size=(160, 45), notifications=True) as pilot:
                    await wait_for(
                        pilot, lambda: NAME in app.controller.subscriptions, what="subscribed"
                    )
                    frames = [frame for _, frame in hostile_records(NAME, public)]
                    frames.append(record(NAME, "good", crypto.encrypt_payload({"a": 1}, [public])))
                    for frame in frames:
                        await server.push(frame)
                    await wait_for(
                        pilot, lambda: "good" in app.controller.history.by_idem, what="records"
                    )
                    tabs = app.query_one("#inspector-tabs", TabbedContent)
                    inspector = app.query_one(Inspector)
                    for entry in list(app.controller.history.entries):
                        app.main.select_idem(entry.idem)
                        for tab in TABS:
                            tabs.active = tab
                            await pilot.pause()
                            await wait_for(pilot, lambda: not inspector.busy, what="inspector")
                            screens.append(shot(app).text)
                        await pilot.press("y", "c")
                    for key in ("d", "x", "s", "r", "n", "question_mark", "ctrl+p"):
                        await pilot.press(key)
                        await wait_for(pilot, lambda: len(app.screen_stack) == 2, what=key)
                        await pilot.pause()
                        if key == "ctrl+p":  # the palette lists its commands once found
                            await wait_for(pilot, lambda: "Publish" in shot(app).text)
                        screens.append(shot(app).text)
                        await pilot.press("escape")
                        await wait_for(pilot, lambda: len(app.screen_stack) == 1, what="closed")
                    export = tmp_path / "export.ndjson"
                    await pilot.press("e")
                    await wait_for(pilot, lambda: len(app.screen_stack) == 2, what="export")
                    app.screen.query_one("#path", Input).value = str(export)
                    await pilot.press("enter")
                    await wait_for(pilot, lambda: export.exists(), what="the export")
                    screens.append(shot(app).text)
                    # the crash: a real handler (the inspector, when a record arrives and is
                    # selected) fails with the secret in a local variable
                    await pilot.press("f")  # following: the newest record is inspected
                    monkeypatch.setattr(Inspector, "show", failing_show)
                    await server.push(record(NAME, "crash", crypto.encrypt_payload({}, [public])))
                    await wait_for(pilot, lambda: app.return_code is not None, what="the crash")
    finally:
        logger.removeHandler(handler)
        handler.close()
    printed = capfd.readouterr()
    assert app.crash_report is not None
    written: dict[str, str] = {
        "stdout": printed.out,
        "stderr": printed.err,
        "Textual log": textual_log.read_text(errors="replace"),
        "client log": client_log.read_text(errors="replace"),
        "crash report": Path(app.crash_report).read_text(errors="replace"),
        "export": export.read_text(errors="replace"),
        "clipboard": "\n".join(copied),
        "notifications": "\n".join(text for _, text in app.controller.notices),
        "screens": "\n".join(screens),
    }
    assert str(app.crash_report) in printed.err.replace("\n", "")
    assert copied and written["export"] and written["Textual log"]
    for where, text in written.items():
        assert_no_secret(text, [secret, ACCESS_KEY], where)
    size = sum(len(text) for text in written.values())
    figures(
        f"{len(written)} outputs scanned ({size:,} characters: terminal, Textual log, client log,"
        f" crash report, export, clipboard, notifications, {len(screens)} screens) after"
        f" {len(frames)} hostile and good records, every tab, copies, dialogs and a crash:"
        " no secret, no run of 12 of one"
    )
