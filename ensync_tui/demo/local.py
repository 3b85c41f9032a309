"""The demo engine: a local engine with simulated services publishing realistic traffic.

    demo = Demo(seed=0, rate=4.0)
    settings = await demo.start()     # connect the explorer with these
    ...
    await demo.stop()                 # nothing is left running

The engine listens on 127.0.0.1 on a free port (or ``port``) with a temporary
SQLite file. ``clock`` (seconds, like ``time.time``) stamps the engine's record
times and idems, for runs that must give the same output every time.
Identities are derived from the seed, and message contents follow the seed,
so a seed always gives the same keys and the same sample messages.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ensync_tui.demo.flows import (
    EXPLORER,
    IDENTITIES,
    NAMES,
    SAMPLE_ORDER,
    SCHEMAS,
    Flows,
    Planned,
)
from ensync_tui.settings import Settings

if TYPE_CHECKING:
    from ensync_tui.client import EnSyncClient
    from ensync_tui.engine import EngineServer
    from ensync_tui.engine.sandbox import Identity

log = logging.getLogger(__name__)

# samples use a fixed clock so screenshots and tests do not depend on the time
SAMPLE_EPOCH = 1_773_480_600.0  # 2026-03-14 09:30:00 UTC
MAX_GAP = 2.0  # seconds at most between two live messages
CATCH_UP = 0.5  # seconds the producer may fall behind its schedule before it skips ahead
# messages a second at most: the demo's engine, services and the explorer share one
# process, and a 2-core machine keeps up with about 500 of them (one publish at a time)
MAX_RATE = 500
START_BURST = 6


def _digest(name: str, seed: int) -> bytes:
    return hashlib.sha256(f"ensync-tui demo {seed} {name}".encode()).digest()


def _access_key(digest: bytes) -> str:
    return "demo-" + hashlib.sha256(b"access " + digest).hexdigest()[:32]


def demo_identity(name: str, seed: int) -> Identity:
    """A stable identity for ``name`` under ``seed`` (same keys every run)."""
    from nacl import bindings

    from ensync_tui.engine.sandbox import Identity

    digest = _digest(name, seed)
    public, secret = bindings.crypto_sign_seed_keypair(digest)
    b64 = base64.b64encode
    return Identity(name, _access_key(digest), b64(public).decode(), b64(secret).decode())


class Pace:
    """When each live message is due: about ``rate`` a second, the gaps drawn at random.

    The schedule is kept, not each gap: at a high rate several messages fall due
    within one timer tick and go out back to back. Behind by more than CATCH_UP
    seconds (a busy machine), it starts again from now instead of bursting.
    """

    def __init__(self, rate: float, rng: random.Random, now: float) -> None:
        self.rate = rate
        self.rng = rng
        self.due = now

    def wait(self, now: float) -> float:
        """Seconds until the next message is due (0: now)."""
        gap = min(self.rng.expovariate(self.rate), MAX_GAP) if self.rate > 0 else MAX_GAP
        self.due = max(self.due + gap, now - CATCH_UP)
        return max(0.0, self.due - now)


class Demo:
    """A local engine plus producers; ``start()`` returns the explorer's Settings."""

    window = 10_000  # records in flight per name: lively, not one at a time as EnSync pushes

    def __init__(
        self,
        seed: int = 0,
        rate: float = 4.0,
        *,
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not 0 <= rate <= MAX_RATE:
            raise ValueError(f"rate must be 0 to {MAX_RATE:,} messages a second")
        if not 0 <= port <= 65535:
            raise ValueError("port must be 0 (any free port) to 65535")
        self.seed = seed
        self.rate = rate
        self.port = port
        self.clock = clock
        # the management API's key: the explorer reads the names and schemas with it
        self.account_key = "demo-account-" + _access_key(_digest("account", seed))[5:]
        self.server: EngineServer | None = None
        self.published = 0
        self._tmp: Path | None = None
        self._clients: dict[str, EnSyncClient] = {}
        self._producer: asyncio.Task[None] | None = None
        self._samples = Flows(seed)
        self._sample_clock = SAMPLE_EPOCH
        self._lock = asyncio.Lock()
        self.banner = self._banner()

    def _banner(self) -> str:
        where = self.server.url if self.server else "127.0.0.1"
        return (
            f"Local demo engine at {where}: simulated traffic from "
            f"{len(IDENTITIES) - 1} services (seed {self.seed}). Nothing leaves this machine. "
            f"It keeps up to {self.window:,} messages in flight per name, where EnSync "
            "pushes one at a time, so the demo stays lively."
        )

    @functools.cached_property
    def identities(self) -> dict[str, Identity]:
        """The demo's identities, made when first needed: the engine they come from is
        loaded once the explorer has drawn its first frame."""
        return {n: demo_identity(n, self.seed) for n in IDENTITIES}

    @property
    def running(self) -> bool:
        return self.server is not None

    def secrets(self) -> list[str]:
        """Every access key and secret key of the demo's identities (for redaction)."""
        keys = [s for i in self.identities.values() for s in (i.access_key, i.secret_key)]
        return [*keys, self.account_key]

    def settings(self) -> Settings:
        if self.server is None:
            raise RuntimeError("the demo is not running")
        me = self.identities[EXPLORER]
        contacts = {n: i.public_key for n, i in self.identities.items() if n != EXPLORER}
        contacts["self"] = me.public_key
        return Settings(
            url=self.server.url,
            access_key=me.access_key,
            app_secret_key=me.secret_key,
            account_key=self.account_key,
            profile="demo",
            subscribe=list(NAMES),
            contacts=contacts,
            message_names=list(NAMES),
        )

    async def start(self) -> Settings:
        """Start the engine and the producers; returns the explorer's settings."""
        if self.server is not None:
            return self.settings()
        from ensync_tui.engine import EngineServer, MessageSpec
        from ensync_tui.engine.config import AccountSpec
        from ensync_tui.engine.sandbox import sandbox_config

        self._tmp = Path(tempfile.mkdtemp(prefix="ensync-tui-demo-"))
        cfg = sandbox_config(
            self.identities,
            [MessageSpec(name, schema) for name, schema in SCHEMAS.items()],
            host="127.0.0.1",
            port=self.port,
            db=str(self._tmp / "demo.db"),
            clock=self.clock,
            max_in_flight=self.window,
            sub_grace=0.0,  # the explorer's handler is in place before its SUB is answered
            accounts=[AccountSpec("demo", self.account_key)],
        )
        server = EngineServer(cfg)
        try:
            await server.start()
            self.server = server
            self.banner = self._banner()
            await self._connect_producers()
        except BaseException:
            self.server = server
            await self.stop()
            raise
        if self.rate > 0:
            self._producer = asyncio.create_task(self._produce(), name="ensync-tui demo")
        return self.settings()

    async def _connect_producers(self) -> None:
        from ensync_tui.client import EnSyncEngine

        assert self.server is not None
        engine = EnSyncEngine(
            self.server.url,
            {"reconnect_interval": 200, "max_reconnect_attempts": 3, "request_timeout": 10},
        )
        senders = {"orders-service", "payments-service", "billing", "fleet-tracker", "warehouse"}
        names = sorted(senders)
        results = await asyncio.gather(
            *(
                engine.create_client(
                    self.identities[name].access_key,
                    {"appSecretKey": self.identities[name].secret_key},
                )
                for name in names
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        for name, result in zip(names, results, strict=True):
            if not isinstance(result, BaseException):
                self._clients[name] = result  # kept so that stop() closes them
        if failures:
            raise failures[0]

    async def stop(self) -> None:
        """Stop the producers and the engine, and remove the temporary files."""
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer
        clients, self._clients = self._clients, {}
        for client in clients.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5)
        server, self.server = self.server, None
        if server is not None:
            with contextlib.suppress(Exception):
                await server.stop()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    async def __aenter__(self) -> Demo:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish_sample(self, n: int) -> list[dict[str, Any]]:
        """Publish ``n`` deterministic messages (same seed, same messages, same order)."""
        if self.server is None:
            raise RuntimeError("start the demo first")
        results = []
        for _ in range(n):
            self._sample_clock += 1.5
            name = SAMPLE_ORDER[self._samples.counter % len(SAMPLE_ORDER)]
            plan = self._samples.next(self._sample_clock, name)
            results.extend(await self._publish(plan))
        return results

    async def _publish(self, plan: Planned) -> list[dict[str, Any]]:
        client = self._clients[plan.sender]
        recipients = [self.identities[r].public_key for r in plan.recipients]
        metadata = {"persist": True, "headers": plan.headers}
        async with self._lock:  # keep the order of publishes as planned
            results = await client.publish(plan.name, recipients, plan.payload, metadata)
        self.published += 1
        return results

    async def _produce(self) -> None:
        """Publish at about ``rate`` messages a second, with natural variation."""
        flows = Flows(self.seed + 1)
        loop = asyncio.get_running_loop()
        pace = Pace(self.rate, random.Random(self.seed + 2), loop.time())
        failures = 0
        burst = START_BURST  # a few at once, so the stream moves as soon as it opens
        while True:
            if burst:
                burst -= 1
            else:
                # sleep(0) when due already: the engine and the explorer still get turns
                await asyncio.sleep(pace.wait(loop.time()))
            plan = flows.next(time.time())
            try:
                await self._publish(plan)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing publish must not end the demo
                failures += 1
                log.debug("demo publish of %s failed: %s", plan.name, exc)
                await asyncio.sleep(min(0.2 * failures, 2.0))
