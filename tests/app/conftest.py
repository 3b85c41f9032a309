"""Fixtures for the explorer's tests: a local engine, identities and a producer."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest

from ensync_tui.app import EnsyncApp
from ensync_tui.client import EnSyncClient, EnSyncEngine, crypto
from ensync_tui.engine import EngineServer
from ensync_tui.engine.sandbox import Identity, make_identities, sandbox_config
from ensync_tui.protocol import replies
from ensync_tui.settings import Settings

NAMES = ["orders/created", "orders/status", "audit/log"]
SIZE = (160, 45)
# The explorer's tests are about what it shows and sends, so their engine keeps many
# records in flight per name; a test marked ``window(1)`` gets EnSync's one at a time.
WIDE = 10_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "window(n): records in flight per subscription in the env engine"
    )


class Env:
    def __init__(
        self, server: EngineServer, ids: dict[str, Identity], db: str, window: int = WIDE
    ) -> None:
        self.server = server
        self.ids = ids
        self.db = db
        self.window = window
        self.producer: EnSyncClient | None = None

    @property
    def me(self) -> Identity:
        return self.ids["alice"]

    def settings(self, **kwargs: Any) -> Settings:
        values: dict[str, Any] = {
            "url": self.server.url,
            "access_key": self.me.access_key,
            "app_secret_key": self.me.secret_key,
            "subscribe": ["orders/created"],
            "message_names": list(NAMES),
            "contacts": {"bob": self.ids["bob"].public_key},
        }
        values.update(kwargs)
        return Settings(**values)

    async def publish(self, name: str, payload: Any, n: int = 1) -> list[str]:
        if self.producer is None:
            engine = EnSyncEngine(self.server.url, {"request_timeout": 10})
            bob = self.ids["bob"]
            self.producer = await engine.create_client(
                bob.access_key, {"appSecretKey": bob.secret_key}
            )
        idems = []
        for i in range(n):
            body = dict(payload, seq=i) if isinstance(payload, dict) else payload
            results = await self.producer.publish(name, [self.me.public_key], body)
            idems.append(results[0]["idem"])
        return idems

    def state(self, idem: str) -> str | None:
        return self.server.store.delivery_state(idem, self.me.public_key)

    async def restart(self) -> None:
        port = self.server.port
        await self.server.stop()
        cfg = sandbox_config(self.ids, NAMES, port=port, db=self.db, max_in_flight=self.window)
        self.server = EngineServer(cfg)
        await self.server.start()


@pytest.fixture
async def env(tmp_path, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    ids = make_identities(["alice", "bob", "carol"])
    db = str(tmp_path / "engine.db")
    marker = request.node.get_closest_marker("window")
    window = WIDE if marker is None else marker.args[0]
    server = EngineServer(sandbox_config(ids, NAMES, port=0, db=db, max_in_flight=window))
    await server.start()
    environment = Env(server, ids, db, window)
    try:
        yield environment
    finally:
        if environment.producer is not None:
            await environment.producer.close()
        await environment.server.stop()


async def wait_for(
    pilot: Any, check: Callable[[], Any], timeout: float = 10.0, what: str = ""
) -> Any:
    """Poll ``check`` (letting the app run) until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await pilot.pause(0.02)


class ManualTimer:
    def __init__(self, due: float, callback: Callable[[], object]) -> None:
        self.due = due
        self.callback = callback
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class ManualClock:
    """A clock a test moves by hand: the explorer's throttles set their timers on it
    (see ``ensync_tui.app.pacing``), and ``advance`` runs those that fall due."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self._timers: list[tuple[float, int, ManualTimer]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], object]) -> ManualTimer:
        timer = ManualTimer(self.now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.due, next(self._order), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move on ``seconds``, running each timer due on the way at its own time."""
        end = self.now + seconds
        while self._timers and self._timers[0][0] <= end:
            due, _, timer = heapq.heappop(self._timers)
            if not timer.stopped:
                self.now = max(self.now, due)
                timer.callback()
        self.now = end

    @property
    def waiting(self) -> int:
        """Timers not run yet."""
        return sum(1 for _, _, timer in self._timers if not timer.stopped)


async def settled(pilot: Any, seconds: float = 1.0) -> None:
    """Let ``seconds`` of the app's manual clock pass and the app handle what followed."""
    clock = pilot.app.controller.clock
    assert isinstance(clock, ManualClock), "the app runs on the wall clock"
    await pilot.pause()
    clock.advance(seconds)
    await pilot.pause()


async def round_trip(app: EnsyncApp, name: str, idem: str) -> None:
    """A request from the explorer to the engine, answered after whatever the explorer
    sent before it (one connection: the engine answers in order)."""
    await app.main.runtime.replay(name, idem)


async def delivered_after(pilot: Any, app: EnsyncApp, env: Env, name: str) -> None:
    """Publish a marker on ``name`` (subscribed) and wait until it is held: what was
    published before it has had its chance to arrive."""
    (marker,) = await env.publish(name, {"marker": True})
    await wait_for(pilot, lambda: marker in app.controller.history.by_idem, what="the marker")


def got(app: EnsyncApp, count: int) -> bool:
    """``count`` records received and the stream redrawn with them."""
    return app.controller.history.received == count and not app.main.view_pending


def caught_up(app: EnsyncApp, count: int) -> bool:
    """``count`` records drawn and, following, the highlight and the inspector on the
    newest (they move together, at most once a second)."""
    return got(app, count) and app.main.inspect_due is None


def make_app(settings: Settings, **kwargs: Any) -> EnsyncApp:
    return EnsyncApp(settings, **kwargs)


def answering_screen(value: Any) -> type:
    """A dialog stand-in that answers ``value`` at once (for driving keys in tests)."""
    from textual.screen import ModalScreen

    class Answer(ModalScreen[Any]):
        seen: ClassVar[list[tuple[Any, ...]]] = []

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__()
            Answer.seen.append(args)

        def on_mount(self) -> None:
            self.dismiss(value)

    return Answer


def fake_dialog(monkeypatch: pytest.MonkeyPatch, module: str, name: str, value: Any) -> type:
    """Replace dialog ``name`` of ``ensync_tui.app.screens.<module>`` by one answering ``value``."""
    import importlib
    import sys
    import types

    screen = answering_screen(value)
    full = f"ensync_tui.app.screens.{module}"
    try:
        mod = importlib.import_module(full)
    except ImportError:
        mod = types.ModuleType(full)
        monkeypatch.setitem(sys.modules, full, mod)
    monkeypatch.setattr(mod, name, screen, raising=False)
    return screen


SNAP_SECRET = (
    "Cswt8Va6a4PpNBtM6MK2Ob37OWW+qV/Y0Z2HrEnF6CDWTtbVJegfvlm4zet7VzT1om4hpzh5KOYVeld6hweXbQ=="
)
SNAP_SENDER = "TRKray1Kuli2d6GKcnk4X8oZBe5PXQLPpz3jILd6THc="


def build_records(count: int = 12) -> list[replies.Record]:
    """Fixed records (fixed idems, times and sizes) for tests that need no engine."""
    me = crypto.public_key_of(SNAP_SECRET)
    names = ["orders/created", "orders/status", "audit/log"]
    out = []
    for i in range(count):
        name = names[i % 3]
        payload = {
            "order": {
                "id": 1000 + i,
                "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
            },
            "customer": {"name": "Ann Lee", "vip": i % 2 == 0},
            "total": 19.5 + i,
        }
        out.append(
            replies.Record(
                name=name,
                idem=f"0190e1f2-{i:04d}-7a3b-9c1d-5e6f7a8b9c0d",
                block=i // 3 + 1,
                logged_at=1_767_225_600_000 + i * 1500,
                payload=crypto.encrypt_payload(payload, [me]),
                metadata={"persist": True, "headers": {"trace": f"t-{i}"}},
                sender=SNAP_SENDER,
            )
        )
    return out


@pytest.fixture
def fixed_records() -> list[replies.Record]:
    return build_records()
