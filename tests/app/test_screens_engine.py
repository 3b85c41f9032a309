"""The composer and replay search driving a real client against a local engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Label, Static, TextArea

from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.screens.replay import ReplayScreen, ResultsTable
from ensync_tui.client import EnSyncClient, EnSyncEngine
from ensync_tui.client.publishing import Message
from ensync_tui.engine import EngineServer
from ensync_tui.engine.sandbox import Identity, make_identities, sandbox_config
from tests.app.conftest import wait_for

NAMES = ["orders/created", "orders/status"]


class Host(App[None]):
    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen

    def compose(self) -> ComposeResult:
        yield Label("host")

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


class Setup:
    def __init__(self, server: EngineServer, ids: dict[str, Identity], client: EnSyncClient):
        self.server = server
        self.ids = ids
        self.client = client

    async def publish(self, message: Message) -> list[dict]:
        return await message.publish(self.client)


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    ids = make_identities(["me", "bob"])
    server = EngineServer(sandbox_config(ids, NAMES, port=0))
    await server.start()
    engine = EnSyncEngine(server.url, {"reconnect_interval": 100, "request_timeout": 5})
    me = ids["me"]
    client = await engine.create_client(me.access_key, {"appSecretKey": me.secret_key})
    try:
        yield Setup(server, ids, client)
    finally:
        await client.close()
        await server.stop()


async def compose_and_send(
    pilot: Pilot[Any], name: str, recipients: str, payload: str, persist: bool = True
) -> str:
    screen = pilot.app.screen
    screen.query_one("#name", Input).value = name
    screen.query_one("#recipients", TextArea).load_text(recipients)
    screen.query_one("#payload", TextArea).load_text(payload)
    screen.query_one("#persist", Checkbox).value = persist
    await pilot.pause()
    await pilot.press("ctrl+s")
    result = screen.query_one("#result", Static)
    await wait_for(pilot, lambda: "Sending" not in str(result.render()), what="the answer")
    return str(result.render())


async def test_publish_then_replay_against_the_engine(setup: Setup) -> None:
    me, bob = setup.ids["me"], setup.ids["bob"]
    history: list[dict] = []
    app = Host(
        lambda: ComposerScreen(
            NAMES, {"bob": bob.public_key}, me.public_key, history, setup.publish
        )
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = await compose_and_send(pilot, "orders/created", "self, bob", '{"order": 7}')
        assert "Published orders/created to 2 recipient(s)" in text, text
        assert len(history) == 1
        kept = await compose_and_send(pilot, "orders/created", "bob", '{"order": 8}', persist=False)
        assert "Published" in kept, kept
        refused = await compose_and_send(pilot, "orders/unknown", "bob", "{}")
        assert "Send failed" in refused and len(history) == 2

    idems = [line.split("idem ")[1].split()[0] for line in text.splitlines() if "idem " in line]
    transient = kept.split("idem ")[1].split()[0]
    assert setup.server.store.delivery_state(idems[1], bob.public_key) == "pending"

    shown: list[dict] = []
    searches: list[tuple[str, str]] = []
    app = Host(lambda: ReplayScreen(NAMES, searches, setup.client.replay, shown.append))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#idems", TextArea).load_text(f"{idems[0]}\nno-such-idem\n{transient}")
        await pilot.pause()
        await pilot.press("ctrl+s")
        table = screen.query_one("#results", ResultsTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="three results")
        rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(3)]
        assert idems[0] in rows[0] and '{"order":7}' in rows[0], rows[0]
        assert "not found or not yours" in rows[1], rows[1]
        assert "not persisted" in rows[2], rows[2]
        assert [m["payload"] for m in shown] == [{"order": 7}]
        assert len(searches) == 3
