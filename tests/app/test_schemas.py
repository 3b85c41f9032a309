"""The explorer with an account key: registered names complete in the subscribe dialog
and the composer, the composer starts a payload from a schema and checks a draft
against it, the inspector shows the schema and marks the fields that do not match."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.widgets import Input, OptionList, Static, TextArea, Tree

from ensync_tui.app import EnsyncApp
from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.screens.prompts import SubscribeScreen
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.app.widgets.lines import LinesView
from ensync_tui.engine import EngineServer, MessageSpec
from ensync_tui.engine.config import AccountSpec
from ensync_tui.engine.sandbox import make_identities, sandbox_config
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, Env, got, wait_for

ACCOUNT = "explorer-tests-account-key-01"
STATUS_SCHEMA = {"order_id": "string", "qty": "long", "seq": "integer"}  # Env adds seq


@pytest.fixture
async def api_env(tmp_path) -> AsyncIterator[Env]:
    ids = make_identities(["alice", "bob"])
    messages = [MessageSpec("orders/created"), MessageSpec("orders/status", STATUS_SCHEMA)]
    cfg = sandbox_config(
        ids, messages, port=0, max_in_flight=100, accounts=[AccountSpec("admin", ACCOUNT)]
    )
    server = EngineServer(cfg)
    await server.start()
    assert server.registry is not None
    server.registry.create_event("billing/paid", {"invoice": "string", "amount": "double"})
    env = Env(server, ids, ":memory:")
    try:
        yield env
    finally:
        if env.producer is not None:
            await env.producer.close()
        await server.stop()


def _settings(env: Env, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "subscribe": ["orders/status"],
        "message_names": [],
        "account_key": ACCOUNT,
    }
    values.update(kw)
    return env.settings(**values)


async def _read(pilot: Any, app: EnsyncApp) -> None:
    await wait_for(pilot, lambda: "billing/paid" in app.controller.registered, what="registry")


async def test_registered_names_complete_in_the_subscribe_dialog_and_the_composer(api_env):
    app = EnsyncApp(_settings(api_env))
    async with app.run_test(size=SIZE) as pilot:
        await _read(pilot, app)
        assert app.controller.registered["billing/paid"] == {
            "invoice": "string",
            "amount": "double",
        }
        assert "billing/paid" in app.controller.known_names()
        await wait_for(pilot, lambda: app.controller.status.state == "connected")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SubscribeScreen))
        await wait_for(pilot, lambda: app.screen.query("#names"), what="the names")
        dialog = app.screen
        names = dialog.query_one("#names", OptionList)
        offered = [names.get_option_at_index(i).id for i in range(names.option_count)]
        assert "billing/paid" in offered and "orders/created" in offered
        await pilot.press(*"bil")
        field = dialog.query_one("#name", Input)
        await wait_for(pilot, lambda: field._suggestion == "billing/paid", what="suggestion")
        await pilot.press("escape")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen))
        await wait_for(pilot, lambda: app.screen.query("#payload"), what="the composer")
        composer = app.screen
        await pilot.press(*"billing/p")
        name = composer.query_one("#name", Input)
        await wait_for(pilot, lambda: name._suggestion == "billing/paid", what="suggestion")
        await pilot.press("right")  # take the suggestion
        hint = composer.query_one("#schema-status", Static)
        await wait_for(pilot, lambda: hint.display, what="the schema line")
        assert "invoice string, amount double" in str(hint.render())


async def test_the_composer_starts_from_the_schema_and_checks_the_draft(api_env):
    app = EnsyncApp(_settings(api_env, subscribe=[]))
    async with app.run_test(size=SIZE) as pilot:
        await _read(pilot, app)
        await wait_for(pilot, lambda: app.controller.status.state == "connected")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen))
        await wait_for(pilot, lambda: app.screen.query("#payload"), what="the composer")
        composer = app.screen
        composer.query_one("#name", Input).value = "orders/status"
        await pilot.pause()
        await pilot.press("ctrl+t")
        payload = composer.query_one("#payload", TextArea)
        assert json.loads(payload.text) == {"order_id": "", "qty": 0, "seq": 0}
        status = composer.query_one("#json-status", Static)
        await wait_for(pilot, lambda: "matches the schema" in str(status.render()))
        before = api_env.server.store.count()
        payload.load_text('{"order_id": 7, "colour": "red"}')
        await wait_for(pilot, lambda: status.has_class("-error"), what="live schema check")
        assert "(and 3 more)" in str(status.render())
        await pilot.press("ctrl+s")
        result = composer.query_one("#result", Static)
        await wait_for(pilot, lambda: result.has_class("-error"), what="refused")
        text = str(result.render())
        for said in (
            "field 'order_id': expected string, got integer",
            "field 'qty': missing (long)",
            "field 'colour': not in the schema",
            "Nothing was sent.",
        ):
            assert said in text, text
        assert api_env.server.store.count() == before
        payload.load_text('{"order_id": "A-1", "qty": 3, "seq": 1}')
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: result.has_class("-ok"), what="sent")
        assert api_env.server.store.count() == before + 1
        composer.query_one("#name", Input).value = "orders/created"  # no schema
        await pilot.pause()
        await pilot.press("ctrl+t")
        assert not composer.query_one("#schema-status", Static).display
        assert json.loads(payload.text)["order_id"] == "A-1"  # left as it was


async def test_the_inspector_shows_the_schema_and_marks_what_does_not_match(api_env):
    app = EnsyncApp(_settings(api_env))
    async with app.run_test(size=SIZE) as pilot:
        await _read(pilot, app)
        await wait_for(pilot, lambda: "orders/status" in app.controller.subscriptions)
        await api_env.publish("orders/status", {"order_id": "A-1", "qty": 3})
        await wait_for(pilot, lambda: got(app, 1), what="the record")
        inspector = app.query_one(Inspector)
        stream = app.query_one(StreamView)
        await wait_for(pilot, lambda: inspector.entry is stream.selected, what="inspected")
        status = inspector.query_one("#inspector-status", Static)
        await wait_for(pilot, lambda: "✓ matches the schema" in str(status.render()))
        # the schema changes on the engine: the next read marks the record's fields
        registry = api_env.server.registry
        assert registry is not None
        event = registry.event_named("orders/status")
        new = {"order_id": "string", "qty": "string", "status": "string", "seq": "integer"}
        registry.update_event(event.id, None, new)
        app.main.read_registry()
        await wait_for(pilot, lambda: app.controller.registered["orders/status"] == new)
        await wait_for(pilot, lambda: "✗ 2 fields not matching the schema" in str(status.render()))
        tree = inspector.query_one("#payload-tree", Tree)
        labels = [str(node.label) for node in tree.root.children]
        assert 'order_id: "A-1"' in labels
        assert "qty ✗ expected string, got integer: 3" in labels
        assert "status ✗ missing (string)" in labels
        inspector.query_one("#inspector-tabs").active = "tab-meta"
        meta = inspector.query_one("#payload-meta", LinesView)
        await wait_for(pilot, lambda: "Schema (registered)" in meta.text, what="the schema")
        assert "✓ order_id  string" in meta.text
        assert "✗ qty  string  (expected string, got integer)" in meta.text
        assert "✗ status  string  (missing (string))" in meta.text


async def test_without_an_account_key_nothing_is_read(api_env):
    app = EnsyncApp(_settings(api_env, account_key=None))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "orders/status" in app.controller.subscriptions)
        await api_env.publish("orders/status", {"order_id": "A-1", "qty": 3})
        await wait_for(pilot, lambda: got(app, 1), what="the record")
        inspector = app.query_one(Inspector)
        await wait_for(pilot, lambda: inspector.entry is not None, what="inspected")
        assert app.controller.registered == {} and not app.main._registry_reading
        assert "schema" not in str(inspector.query_one("#inspector-status").render())
        assert "billing/paid" not in app.controller.known_names()


async def test_a_wrong_account_key_is_one_warning(api_env):
    app = EnsyncApp(_settings(api_env, account_key="not-the-account-key"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.controller.registry_problem, what="the failure")
        app.main.read_registry()
        await wait_for(pilot, lambda: not app.main._registry_reading)
        warnings = [t for s, t in app.controller.notices if "registered names" in t]
        assert len(warnings) == 1 and "401 invalid access key" in warnings[0]
        assert "not-the-account-key" not in warnings[0]
        assert app.controller.registered == {}


async def test_the_demo_reads_its_names_and_schemas():
    from ensync_tui.demo import Demo
    from ensync_tui.demo.flows import SCHEMAS

    demo = Demo(seed=0, rate=0)
    app = EnsyncApp(Settings(), demo)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.controller.registered, what="the demo's names")
        assert set(app.controller.registered) == set(SCHEMAS)
        for name, schema in SCHEMAS.items():
            assert app.controller.registered[name] == (schema or {})
        assert demo.account_key in demo.secrets()


async def test_hostile_names_and_schemas_from_the_api_are_shown_escaped():
    """A hostile management API: its names, fields and type words reach the screen as
    plain text with their control characters as escapes."""
    import asyncio

    from tests.hostile import HOSTILE_TEXTS

    evil = {
        f"evil/{key}{text}": {f"f{text}": f"string{text}"} for key, text in HOSTILE_TEXTS.items()
    }
    events = [{"id": str(i), "name": n, "payload": s} for i, (n, s) in enumerate(evil.items())]
    body = json.dumps({"resultsLength": len(events), "results": events}).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    api = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/v1/ensync"
    settings = Settings(url="ws://127.0.0.1:9", access_key="k", account_key=ACCOUNT, api_url=api)
    app = EnsyncApp(settings)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(app.controller.registered) == len(evil))
            app.push_screen(SubscribeScreen(app.controller.known_names(), []))
            await wait_for(pilot, lambda: isinstance(app.screen, SubscribeScreen))
            await wait_for(pilot, lambda: app.screen.query("#names"), what="the names")
            names = app.screen.query_one("#names", OptionList)
            shown = [str(names.get_option_at_index(i).prompt) for i in range(names.option_count)]
            assert not any("\x1b" in s or "\u202e" in s for s in shown)
            assert any("\\x1b]0;owned\\x07" in s for s in shown)

            async def send(message: Any) -> list[dict]:
                return []

            await pilot.press("escape")
            composer = ComposerScreen(
                list(evil), {}, "", [], send, schemas=app.controller.registered
            )
            app.push_screen(composer)
            await wait_for(pilot, lambda: app.screen is composer and composer.query("#name"))
            name = next(n for n in evil if "title" in n)
            composer.query_one("#name", Input).value = name
            await pilot.pause()
            hint = str(composer.query_one("#schema-status", Static).render())
            assert "\x1b" not in hint and "\\x1b]0;owned\\x07" in hint
            assert app.is_running  # nothing clicked, quit or retitled the app
    finally:
        server.close()
