"""The Changes tab by a key path (K): the previous message with the same key, per name."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from ensync_tui.app.compare import PathError, check_path, previous_by
from ensync_tui.app.history import History
from ensync_tui.app.pacing import INSPECT_DELAY
from ensync_tui.app.screens.compare import CompareScreen
from tests.app.conftest import SNAP_SECRET, build_records, settled, wait_for
from tests.app.test_layout import feed, lines_of, offline_app


def test_previous_by_finds_the_same_key_of_the_same_name():
    history = History(secret_key=SNAP_SECRET)
    history.add(build_records(12))
    entries = list(history.entries)
    last = entries[11]  # audit/log, vip false
    assert history.previous_of(last) is entries[8]
    found = previous_by(history.previous_of, last, "$.customer.vip", SNAP_SECRET)
    assert found is entries[5]
    assert previous_by(history.previous_of, last, "$.order.id", SNAP_SECRET) is None
    assert previous_by(history.previous_of, last, "$.nothing", SNAP_SECRET) is None
    assert previous_by(history.previous_of, last, "$.customer.vip", SNAP_SECRET, 1) is None


def test_a_key_path_is_checked():
    assert check_path(" $.bikeId ") == "$.bikeId"
    with pytest.raises(PathError, match="starts with"):
        check_path("bikeId")
    with pytest.raises(PathError):
        check_path("$.a.")


async def test_k_chooses_the_key_path_per_name_and_changes_follows_it() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 12)  # the newest (audit/log, 0011) is inspected
        diff = app.query_one("#payload-diff")
        await pilot.press("K")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen)
        field = screen.query_one("#path", Input)
        field.value = "customer"
        await pilot.press("enter")
        assert "starts with $" in str(screen.query_one("#error").render())
        field.value = "$.customer.vip"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))
        await settled(pilot, INSPECT_DELAY)
        assert app.query_one("#inspector-tabs").active == "tab-diff"
        head = lines_of(diff)[0]
        assert "with $.customer.vip == false" in head and "0190e1f2-0005" in head, head
        # another name is still compared with its previous one
        entries = list(app.controller.history.entries)
        app.main.stream.select_entry(entries[10])
        app.main.inspect_now(entries[10])
        await settled(pilot, INSPECT_DELAY)
        head = lines_of(diff)[0]
        assert "with" not in head and "0190e1f2-0007" in head, head
        # back on the name: remembered, and empty goes back to the previous one
        app.main.stream.select_entry(entries[11])
        app.main.inspect_now(entries[11])
        await settled(pilot, INSPECT_DELAY)
        assert "0190e1f2-0005" in lines_of(diff)[0]
        await pilot.press("K")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen)
        assert screen.query_one("#path", Input).value == "$.customer.vip"
        screen.query_one("#path", Input).value = ""
        await pilot.press("enter")
        await settled(pilot, INSPECT_DELAY)
        assert "0190e1f2-0008" in lines_of(diff)[0]
