"""Saved payloads: kept per message name in the user data folder; saved, listed, loaded,
renamed and deleted from the composer; a selected message saved from the palette."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TextArea

from ensync_tui.app import saved
from ensync_tui.app.saved import SavedError, SavedPayloads
from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.screens.saved import ConfirmScreen, SavedPayloadsScreen, SaveNameScreen
from tests.app.conftest import wait_for
from tests.app.screen import assert_inert, assert_literal, shot
from tests.app.test_layout import feed, offline_app
from tests.app.test_screens import FakeSend, Host, composer_host, flush
from tests.hostile import HOSTILE_TEXTS

FORM = {
    "name": "orders/created",
    "recipients": ["self", "bob"],
    "payload_text": '{"orderId": "ord-1"}',
    "headers_text": "trace=t-1",
    "persist": False,
    "hybrid": True,
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of the test's own: never the user's."""
    where = tmp_path / "data" / "payloads"
    monkeypatch.setattr(saved, "data_folder", lambda: where)
    return where


# ---- the files ----------------------------------------------------------------------------


def test_save_load_rename_delete_round_trip(folder: Path) -> None:
    store = SavedPayloads("orders/created")
    assert store.load() == {}
    assert store.save("refund", FORM) is False
    assert store.save("big", {**FORM, "payload_text": '{"amount": 900}'}) is False
    assert store.save("refund", FORM) is True  # the same name replaces
    assert store.path.parent == folder
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == [store.path.name]  # no temp file left
    again = SavedPayloads("orders/created").load()
    assert list(again) == ["refund", "big"]
    entry = again["refund"]
    for field in saved.FIELDS:
        assert entry[field] == FORM[field]
    store.rename("refund", "refund-2")
    assert list(store.load()) == ["refund-2", "big"]
    with pytest.raises(SavedError, match="exists already"):
        store.rename("refund-2", "big")
    store.delete("big")
    assert list(store.load()) == ["refund-2"]
    with pytest.raises(SavedError, match="gone"):
        store.delete("big")
    with pytest.raises(SavedError, match="Enter a name"):
        store.save("  ", FORM)
    # another name has a file of its own
    assert SavedPayloads("orders/status").load() == {}


HOSTILE_NAMES = [
    "../../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    "a/../../b",
    "C:\\Windows\\x",
    "\x00nul",
    "\ud800lone",
    "x" * 5000,
    *HOSTILE_TEXTS.values(),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[str(i) for i in range(len(HOSTILE_NAMES))])
def test_a_hostile_message_or_save_name_stays_inside_the_folder(folder: Path, name: str) -> None:
    store = SavedPayloads(name)
    save_name = name[: saved.MAX_SAVE_NAME] or "empty"
    store.save(save_name, FORM)
    assert store.path.parent == folder
    assert len(store.path.name) < 120 and not store.path.name.startswith(".")
    assert [p.resolve().parent for p in folder.iterdir()] == [folder.resolve()]
    assert list(SavedPayloads(name).load()) == [save_name]


def test_names_that_read_alike_keep_files_apart(folder: Path) -> None:
    SavedPayloads("orders/created").save("one", FORM)
    SavedPayloads("orders-created").save("two", FORM)
    assert list(SavedPayloads("orders/created").load()) == ["one"]
    assert list(SavedPayloads("orders-created").load()) == ["two"]


@pytest.mark.parametrize(
    "text",
    ['{"kind": "ensync-tui saved payloads", "saved": ', "[1, 2]", '{"other": "app"}', "\xff"],
    ids=["truncated", "a-list", "foreign", "not-utf8"],
)
def test_a_broken_or_foreign_file_is_reported_and_left_as_it_is(folder: Path, text: str) -> None:
    store = SavedPayloads("orders/created")
    folder.mkdir(parents=True)
    store.path.write_bytes(text.encode("latin-1"))
    with pytest.raises(SavedError, match=r"left as it is|cannot be read"):
        store.load()
    for change in (
        lambda: store.save("x", FORM),
        lambda: store.rename("x", "y"),
        lambda: store.delete("x"),
    ):
        with pytest.raises(SavedError):
            change()
    assert store.path.read_bytes() == text.encode("latin-1")  # nothing lost


def test_fields_of_the_wrong_type_are_dropped_not_loaded(folder: Path) -> None:
    store = SavedPayloads("orders/created")
    folder.mkdir(parents=True)
    entry = {"payload_text": "{}", "recipients": 7, "persist": "yes", "hybrid": True, "x": 1}
    data = {"kind": saved.KIND, "message_name": "orders/created", "saved": {"a": entry, "b": 3}}
    store.path.write_text(json.dumps(data))
    assert store.load() == {"a": {"payload_text": "{}", "hybrid": True}}


def test_a_file_of_another_message_name_is_not_taken(folder: Path) -> None:
    store = SavedPayloads("orders/created")
    folder.mkdir(parents=True)
    other = {"kind": saved.KIND, "message_name": "users/signup", "saved": {}}
    store.path.write_text(json.dumps(other))
    with pytest.raises(SavedError, match="not a saved-payloads file of this message name"):
        store.load()


# ---- the composer -------------------------------------------------------------------------


async def fill(pilot, name: str, payload: str) -> ComposerScreen:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, ComposerScreen))
    screen = pilot.app.screen
    screen.query_one("#name", Input).value = name
    screen.query_one("#payload", TextArea).load_text(payload)
    await flush(pilot)
    return screen


async def save_as(pilot, save_name: str) -> None:
    await pilot.press("ctrl+k")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SaveNameScreen))
    await flush(pilot)
    pilot.app.screen.query_one("#save-name", Input).value = save_name
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ComposerScreen), what="back")


async def open_list(pilot) -> SavedPayloadsScreen:
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SavedPayloadsScreen))
    await flush(pilot)
    return pilot.app.screen


def listed(screen: SavedPayloadsScreen) -> list[str]:
    options = screen.query_one("#saved", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_composer_saves_lists_loads_renames_and_deletes(folder: Path) -> None:
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        composer = await fill(pilot, "orders/created", '{"orderId": "ord-1"}')
        composer.query_one("#headers", TextArea).load_text("trace=t-1")
        await save_as(pilot, "refund")
        assert any("Saved refund for orders/created" in note for note in app.notes)
        composer.query_one("#payload", TextArea).load_text('{"orderId": "ord-2"}')
        await save_as(pilot, "second")
        assert list(SavedPayloads("orders/created").load()) == ["refund", "second"]

        # list and load: Enter fills the form with the one under the cursor
        composer.query_one("#payload", TextArea).load_text("{}")
        composer.query_one("#headers", TextArea).load_text("")
        screen = await open_list(pilot)
        rows = listed(screen)
        assert rows[0].startswith("refund") and rows[1].startswith("second")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is composer, what="loaded")
        assert json.loads(composer.query_one("#payload", TextArea).text) == {"orderId": "ord-1"}
        assert composer.query_one("#headers", TextArea).text == "trace=t-1"
        assert composer.query_one("#name", Input).value == "orders/created"

        # rename
        screen = await open_list(pilot)
        await pilot.press("down", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
        await flush(pilot)
        field = app.screen.query_one("#save-name", Input)
        assert field.value == "second"
        field.value = "ord-2 case"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await flush(pilot)
        assert listed(screen)[1].startswith("ord-2 case")
        assert list(SavedPayloads("orders/created").load()) == ["refund", "ord-2 case"]

        # delete asks first: n keeps it, y removes it
        await pilot.press("up", "delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "refund" in str(app.screen.query_one("#confirm", Static).render())
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        assert list(SavedPayloads("orders/created").load()) == ["refund", "ord-2 case"]
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen)
        await flush(pilot)
        assert list(SavedPayloads("orders/created").load()) == ["ord-2 case"]
        assert len(listed(screen)) == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is composer)


async def test_the_list_is_of_the_composers_message_name(folder: Path) -> None:
    SavedPayloads("users/signup").save("someone else's", FORM)
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await fill(pilot, "orders/created", "{}")
        screen = await open_list(pilot)
        assert listed(screen) == []
        assert "Nothing saved yet" in str(screen.query_one("#saved-status", Static).render())


async def test_a_broken_file_is_shown_in_the_list_and_nothing_is_lost(folder: Path) -> None:
    store = SavedPayloads("orders/created")
    folder.mkdir(parents=True)
    store.path.write_text("{not json")
    app = composer_host(FakeSend())
    async with app.run_test(size=(120, 40)) as pilot:
        await fill(pilot, "orders/created", "{}")
        screen = await open_list(pilot)
        status = str(screen.query_one("#saved-status", Static).render())
        assert "not valid JSON (line 1, column 2)" in status and "left as it is" in status
        await pilot.press("escape")
        await save_as(pilot, "new one")
        assert any("not valid JSON" in note for note in app.notes)
    assert store.path.read_text() == "{not json"


async def test_hostile_names_show_literally_in_the_list(folder: Path) -> None:
    hostile = HOSTILE_TEXTS["click-quit"] + HOSTILE_TEXTS["title"]
    SavedPayloads(hostile).save(HOSTILE_TEXTS["link"] + HOSTILE_TEXTS["clear"], FORM)
    app = Host(lambda: SavedPayloadsScreen(SavedPayloads(hostile)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SavedPayloadsScreen))
        await flush(pilot)
        taken = shot(app)
        assert_inert(taken, "saved payloads")
        assert_literal(taken, HOSTILE_TEXTS["link"], "save name")
        assert_literal(taken, HOSTILE_TEXTS["click-quit"], "message name", width=20)


# ---- a selected message, from the palette -------------------------------------------------


async def test_a_selected_message_is_saved_from_the_palette(folder: Path) -> None:
    from ensync_tui.app.palette import EnsyncCommands

    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 4)
        entry = app.main.selected
        assert entry is not None
        provider = EnsyncCommands(app.main)
        hits = [hit async for hit in provider.search("save payload of selected")]
        assert hits and hits[0].text == "Save payload of selected message"
        hits[0].command()
        await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
        await flush(pilot)
        app.screen.query_one("#save-name", Input).value = "from the stream"
        await pilot.press("enter")
        kept = await wait_for(pilot, lambda: SavedPayloads(entry.name).load(), what="saved")
        value = entry.decrypt(app.controller.history.secret_key)
        assert json.loads(kept["from the stream"]["payload_text"]) == value


def test_the_saved_payload_keys_have_binding_ids_for_keys() -> None:
    from ensync_tui.app.keymap import binding_ids, check_config

    ids = binding_ids()
    assert ids["composer.save-payload"] == "ctrl+k" and ids["composer.saved-payloads"] == "ctrl+o"
    assert ids["saved.rename"] == "r" and ids["saved.delete"] == "delete,ctrl+d"
    check_config([("a.toml", {"composer.save-payload": "ctrl+j", "saved.rename": "m"}, None)])
