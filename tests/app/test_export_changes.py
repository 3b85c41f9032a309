"""The Changes tab and the export key, driven as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, Static, TabbedContent

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.screens.export import ExportScreen
from ensync_tui.app.widgets import StreamView
from ensync_tui.app.widgets.lines import LinesView
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, SNAP_SECRET, got, wait_for
from tests.app.test_export import home


def offline_app() -> EnsyncApp:
    return EnsyncApp(Settings(app_secret_key=SNAP_SECRET), start_session=False)


async def test_changes_tab_compares_with_the_previous_of_the_name(fixed_records):
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.main.post_message(RecordsReceived(fixed_records[:7]))
        await wait_for(pilot, lambda: got(app, 7))
        app.main.select_idem(fixed_records[6].idem)
        await pilot.pause()
        app.main.inspect_now(app.query_one(StreamView).selected)
        app.query_one("#inspector-tabs", TabbedContent).active = "tab-diff"

        def changes() -> str:
            return app.query_one("#payload-diff", LinesView).text

        await wait_for(pilot, lambda: fixed_records[3].idem in changes(), what="the changes")
        assert "order.id  1003 → 1006" in changes()
        app.main.select_idem(fixed_records[0].idem)
        await pilot.pause()
        app.main.inspect_now(app.query_one(StreamView).selected)
        await wait_for(pilot, lambda: "nothing to compare" in changes(), what="no changes")


async def test_export_key_writes_the_view(fixed_records, tmp_path, monkeypatch):
    home(monkeypatch, tmp_path)
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.main.post_message(RecordsReceived(fixed_records))
        await wait_for(pilot, lambda: got(app, len(fixed_records)))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="dialog")
        path = app.screen.query_one("#path", Input).value
        data = tmp_path / ".local" / "share" / "ensync-tui" / "exports"
        assert path.startswith(f"{data}/") and path.endswith(".ndjson")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "exported" in app.controller.notices[-1][1], what="notice")
        assert app.controller.notices[-1] == ("information", f"exported 12 messages to {path}")
        rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
        assert [r["idem"] for r in rows] == [r.idem for r in fixed_records]
        assert list((tmp_path / "work").iterdir()) == []  # nothing in the working folder
        assert rows[0]["payload"]["order"]["id"] == 1000

        # an existing file is replaced only on the second press; a folder is refused
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
        field = app.screen.query_one("#path", Input)
        field.value = str(tmp_path)
        await pilot.press("enter")
        await pilot.pause()
        assert "is a folder" in str(app.screen.query_one("#error", Static).render())
        field.value = path
        await pilot.press("enter")
        await pilot.pause()
        assert "press Export again" in str(app.screen.query_one("#error", Static).render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen))


async def test_export_of_nothing_says_so():
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert app.controller.notices[-1] == ("warning", "nothing to export: no messages in view")
        assert not isinstance(app.screen, ExportScreen)
