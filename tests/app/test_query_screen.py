"""The ``/`` filter as a user types it: the language, mistakes under the input, recall."""

from __future__ import annotations

from textual.widgets import Input

from ensync_tui.app.history import MessageState
from ensync_tui.app.widgets.filter_bar import MAX_RECENT, FilterStatus, remember
from tests.app.conftest import build_records, wait_for
from tests.app.test_layout import feed, offline_app


def shown(app) -> list[str]:
    history = app.controller.history
    return [entry.idem[9:13] for entry in history.rows(0, len(history))]


async def scanned(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: not app.controller.history.scanning, what="scanned")
    await pilot.pause()


async def test_typing_a_query_filters_and_a_mistake_keeps_the_last_one() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 12)
        await pilot.press("slash")
        await pilot.press(*"$.total > 28")
        await scanned(pilot)
        assert shown(app) == ["0009", "0010", "0011"]
        status = app.query_one(FilterStatus)
        assert "3 of 12 held messages match" in str(status.render())
        await pilot.press(*" and name:orders/")  # a glob that reads but matches nothing
        await scanned(pilot)
        assert shown(app) == []
        await pilot.press(*"* and (")  # unfinished: the last filter that read applies
        await pilot.pause()
        text = str(status.render())
        assert status.has_class("-error")
        assert "column 37" in text and "expected a term" in text, text
        assert shown(app) == ["0009", "0010"]  # "…name:orders/*" read, then nothing more
        await pilot.press(*"$.order.id == 1010 or state:acked)")
        await scanned(pilot)
        assert shown(app) == ["0010"] and not status.has_class("-error")
        await pilot.press("enter")
        assert app.controller.recent_filters[-1].endswith("state:acked)")


async def test_recent_filters_come_back_with_up_and_down() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        filter_input = app.query_one("#filter", Input)
        for text in ("name:audit/*", "$.customer.vip == true"):
            await pilot.press("slash")
            filter_input.value = ""
            await pilot.press(*text, "enter")
            await scanned(pilot)
        assert app.controller.recent_filters == ["name:audit/*", "$.customer.vip == true"]
        await pilot.press("slash")
        filter_input.value = ""
        await pilot.press(*"draft")
        await pilot.press("up")
        assert filter_input.value == "$.customer.vip == true"
        await pilot.press("up", "up")  # stops at the oldest
        assert filter_input.value == "name:audit/*"
        await scanned(pilot)
        assert shown(app) == ["0002", "0005"]
        await pilot.press("down", "down")  # past the newest: what was typed
        assert filter_input.value == "draft"


async def test_escape_clears_the_filter() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        app.main.mark(build_records(1)[0].idem, MessageState.ACKED)
        await pilot.press("slash", *"state:acked")
        await scanned(pilot)
        assert shown(app) == ["0000"]
        await pilot.press("escape")
        await scanned(pilot)
        assert len(shown(app)) == 6


def test_remember_keeps_the_newest_once():
    recent: list[str] = []
    assert remember(recent, " a ") and recent == ["a"]
    assert not remember(recent, "a") and not remember(recent, "  ")
    remember(recent, "b")
    remember(recent, "a")
    assert recent == ["b", "a"]
    for i in range(MAX_RECENT + 5):
        remember(recent, f"f{i}")
    assert len(recent) == MAX_RECENT and recent[-1] == f"f{MAX_RECENT + 4}"


async def test_the_palette_offers_recent_filters() -> None:
    from ensync_tui.app.palette import EnsyncCommands

    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        app.main.use_filter("name:audit/*")
        app.main.use_filter('$.customer.name == "Ann Lee" and \x1b[31m')
        await scanned(pilot)
        app.main.use_filter("")
        await scanned(pilot)
        provider = EnsyncCommands(app.screen)
        hits = [hit async for hit in provider.search("filter audit")]
        chosen = next(h for h in hits if h.text == "Filter: name:audit/*")
        texts = [hit.text async for hit in provider.discover()]
        assert 'Filter: $.customer.name == "Ann Lee" and \\x1b[31m' in texts  # shown escaped
        chosen.command()
        await scanned(pilot)
        assert shown(app) == ["0002", "0005"]
        assert app.query_one("#filter", Input).value == "name:audit/*"


async def test_the_query_language_on_a_recording(tmp_path):
    from ensync_tui.app import EnsyncApp
    from ensync_tui.recording.index import Index
    from ensync_tui.settings import Settings
    from tests.app.test_open import SECRET, recording

    path = tmp_path / "rec.ndjson"
    recording(path)
    app = EnsyncApp(Settings(app_secret_key=SECRET), recording=Index(path))
    async with app.run_test(size=(160, 45)) as pilot:
        history = app.controller.history
        await wait_for(pilot, lambda: history.index.done, what="rows")
        app.main.use_filter('name:orders/c* and $.status == "shipped" and state:acked')
        await wait_for(pilot, lambda: not history.scanning, what="scanned")
        # shipped: 1, 5, 9, …; acked: every third; created: odd
        assert [e.idem for e in history.rows(0, len(history))] == ["idem-009", "idem-021"]


def tree_node(app, keys):
    from textual.widgets import Tree

    tree = app.query_one("#payload-tree", Tree)
    found = []

    def walk(node):
        if node.data == keys:
            found.append(node)
        for child in node.children:
            walk(child)

    walk(tree.root)
    return tree, found[0]


async def test_equals_in_the_tree_tab_follows_one_value_across_names() -> None:
    from tests.app.conftest import settled

    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 12)
        app.main.use_filter("name:orders/status")
        await scanned(pilot)
        await pilot.press("equals_sign")  # the Tree tab is open but no field is chosen
        assert "move the Tree tab's cursor" in app.controller.notices[-1][1]
        tree, node = tree_node(app, ("order", "lines", 1, "sku"))
        tree.focus()
        tree.move_cursor(node)
        await pilot.press("equals_sign")
        await scanned(pilot)
        text = '$.order.lines[*].sku == "B-7"'
        assert app.query_one("#filter", Input).value == text
        assert len(shown(app)) == 12  # every name: the filter's name is cleared
        assert app.controller.recent_filters[-1] == text
        stream = app.main.stream
        stream.focus()
        stream.select_entry(app.controller.history[4])
        app.main.inspect_now(app.controller.history[4])
        await settled(pilot)
        tree, node = tree_node(app, ("order", "id"))
        tree.move_cursor(node)
        await pilot.press("equals_sign")
        await scanned(pilot)
        assert shown(app) == ["0004"]
        assert app.query_one("#filter", Input).value == "$.order.id == 1004"
        app.query_one("#inspector-tabs").active = "tab-json"
        await pilot.pause()
        await pilot.press("equals_sign")
        assert "open it and choose a field" in app.controller.notices[-1][1]


async def test_a_mistake_stays_shown_while_records_arrive() -> None:
    from dataclasses import replace

    from ensync_tui.app.messages import RecordsReceived

    app = offline_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot, 12)
        await pilot.press("slash", *"$.total > 28 and (")
        status = app.query_one(FilterStatus)
        assert status.has_class("-error")
        late = [replace(r, idem=r.idem.replace("0190", "late")) for r in build_records(3)]
        app.main.post_message(RecordsReceived(late))
        await wait_for(pilot, lambda: app.controller.history.received == 15, what="records")
        await scanned(pilot)
        await pilot.pause(0.3)
        assert status.has_class("-error"), str(status.render())
        assert "column 19" in str(status.render())
        assert shown(app) == ["0009", "0010", "0011"]  # "$.total > 28 and" never read
