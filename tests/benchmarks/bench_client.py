"""End-to-end throughput: publisher client -> engine -> subscriber client, every peer alike.

Every peer is driven the same way: publisher and subscriber in this process,
``WINDOW`` publishes in flight (that many tasks, each awaiting its answer, the
answers matched first in, first out), the subscriber handling each record as
it comes, direct encryption to one recipient with a fresh key pair per message,
700-byte payloads. Our client and the official ``ensync-sdk-ws`` talk to the
same engine (its own process, SQLite file, persisted, a wide window so that
this measures the clients and not need-based push). The bare websockets relay
does the protocol's own work (JSON, a fresh X25519 pair, box, base64; decode,
open, JSON) with the same window over bare websockets, to a server that
answers each frame and forwards it unparsed; its fire-and-forget variant (no
answer awaited) is shown as a ceiling. The peers take turns for ``ROUNDS``
rounds so they share the machine's noise; each ratio is the median of the
per-round ratios.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from nacl import bindings

from ensync_tui.engine.sandbox import Identity

NAME = "bench/orders"
PAYLOAD = {"order": "o-1", "data": "x" * 675}  # 700 bytes of JSON
WINDOW = 256  # publishes in flight, for every peer
COUNT = int(os.environ.get("BENCH_CLIENT_COUNT", "8000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TIMEOUT = 120.0


def _control(pipe: Any) -> None:
    """The child's side of the pipe: report CPU time on "cpu", return on "stop"."""
    while True:
        if pipe.recv() != "cpu":
            return
        pipe.send(time.process_time())


def _serve(identities: list[Identity], db: str, pipe: Any) -> None:
    from ensync_tui.engine import EngineServer
    from ensync_tui.engine.sandbox import sandbox_config

    async def run() -> None:
        # a wide window, as the relay has: this measures the clients, not need-based push
        cfg = sandbox_config(identities, [NAME], port=0, db=db, max_in_flight=100_000)
        async with EngineServer(cfg) as server:
            pipe.send(server.url)
            await asyncio.get_running_loop().run_in_executor(None, _control, pipe)

    asyncio.run(run())


def _relay(pipe: Any) -> None:
    """A bare websockets server with no engine logic, to compare against.

    Each frame from a publisher is answered with +PASS and forwarded as it is
    to the subscriber: no parsing, no checks, no storage.
    """
    from websockets.asyncio.server import ServerConnection, serve

    async def run() -> None:
        subscriber: asyncio.Future[ServerConnection] = asyncio.Future()

        async def handler(ws: ServerConnection) -> None:
            if ws.request is not None and ws.request.path == "/subscriber":
                subscriber.set_result(ws)
                await ws.wait_closed()
                return
            target = await subscriber
            async for frame in ws:
                await ws.send("+PASS:{idem=i,block=1}")
                await target.send(frame)

        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            pipe.send(f"ws://127.0.0.1:{port}")
            await asyncio.get_running_loop().run_in_executor(None, _control, pipe)

    asyncio.run(run())


class Peer:
    """The engine (or relay) process of one measurement."""

    def __init__(self, identities: list[Identity], relay: bool) -> None:
        self.identities = identities
        self.relay = relay
        self.url = ""

    @contextlib.contextmanager
    def running(self):
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        with tempfile.TemporaryDirectory() as tmp:
            if self.relay:
                proc = ctx.Process(target=_relay, args=(child,))
            else:
                db = os.path.join(tmp, "e.db")
                proc = ctx.Process(target=_serve, args=(self.identities, db, child))
            proc.start()
            try:
                if not self.pipe.poll(30):
                    raise RuntimeError("engine did not start")
                self.url = self.pipe.recv()
                yield self
            finally:
                with contextlib.suppress(OSError):
                    self.pipe.send("stop")
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
                    proc.join()

    def cpu(self) -> float:
        self.pipe.send("cpu")
        return float(self.pipe.recv())


class Meter:
    """Rate and CPU between start() and stop(): this process's and the peer's."""

    def __init__(self, peer: Peer, count: int) -> None:
        self.peer = peer
        self.count = count

    def start(self) -> None:
        self.peer_cpu = self.peer.cpu()
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def stop(self) -> tuple[float, float, float]:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        peer_cpu = self.peer.cpu() - self.peer_cpu
        n = self.count
        return n / wall, cpu / n * 1e6, peer_cpu / n * 1e6


async def _in_flight(count: int, publish: Callable[[], Any]) -> None:
    """``count`` publishes, WINDOW at a time: each task awaits its answer before the next."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await publish()

    share, extra = divmod(count, WINDOW)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(WINDOW)))


def seal_frame(curve_pk: bytes) -> str:
    """The relay's frame of one message: JSON, a fresh key pair, box, base64."""
    b64 = base64.b64encode
    plaintext = json.dumps(PAYLOAD, separators=(",", ":")).encode()
    eph_pk, eph_sk = bindings.crypto_box_keypair()
    nonce = os.urandom(24)
    sealed = bindings.crypto_box(plaintext, nonce, curve_pk, eph_sk)
    envelope = (
        b'{"nonce":"'
        + b64(nonce)
        + b'","ciphertext":"'
        + b64(sealed)
        + b'","ephemeralPublicKey":"'
        + b64(eph_pk)
        + b'"}'
    )
    return b64(envelope).decode()


def open_frame(frame: str | bytes, curve_sk: bytes) -> Any:
    """What the relay's subscriber does with a frame: decode, open the box, parse."""
    envelope = json.loads(base64.b64decode(frame))
    opened = bindings.crypto_box_open(
        base64.b64decode(envelope["ciphertext"]),
        base64.b64decode(envelope["nonce"]),
        base64.b64decode(envelope["ephemeralPublicKey"]),
        curve_sk,
    )
    return json.loads(opened)


def crypto_alone(count: int) -> float:
    """CPU µs per message of the relay's own work (seal_frame then open_frame) with no
    socket, no client and no engine: what any client in one process pays at least."""
    from ensync_tui.engine.sandbox import make_identities

    sub = make_identities(["subscriber"])["subscriber"]
    curve_pk = bindings.crypto_sign_ed25519_pk_to_curve25519(base64.b64decode(sub.public_key))
    curve_sk = bindings.crypto_sign_ed25519_sk_to_curve25519(base64.b64decode(sub.secret_key))
    start = time.process_time()
    for _ in range(count):
        open_frame(seal_frame(curve_pk), curve_sk)
    return (time.process_time() - start) / count * 1e6


async def run_relay(meter: Meter, pub: Identity, sub: Identity, wait_answers: bool = True) -> Any:
    """The protocol's own work over bare websockets, without our client or engine.

    Per message the publisher encodes the payload as JSON, makes a key pair,
    boxes and base64-encodes the envelope; the subscriber decodes it, opens the
    box and parses the JSON. With ``wait_answers`` the publisher keeps WINDOW
    in flight, each awaiting its answer (matched first in, first out), as the
    clients do; without, it writes as fast as the socket takes.
    """
    from websockets.asyncio.client import connect

    count = meter.count
    curve_pk = bindings.crypto_sign_ed25519_pk_to_curve25519(base64.b64decode(sub.public_key))
    curve_sk = bindings.crypto_sign_ed25519_sk_to_curve25519(base64.b64decode(sub.secret_key))
    url = meter.peer.url
    async with (
        connect(url + "/subscriber", compression=None) as receiver,
        connect(url + "/publisher", compression=None) as sender,
    ):
        await asyncio.sleep(0.1)  # the relay knows its subscriber
        waiting: collections.deque[asyncio.Future[str]] = collections.deque()
        loop = asyncio.get_running_loop()

        async def receive() -> None:
            for _ in range(count):
                open_frame(await receiver.recv(), curve_sk)

        async def answers() -> None:
            for _ in range(count):
                answer = await sender.recv()
                if waiting:
                    waiting.popleft().set_result(answer)  # type: ignore[arg-type]

        async def publish() -> None:
            answer = loop.create_future()
            waiting.append(answer)
            await sender.send(seal_frame(curve_pk))
            await answer

        meter.start()
        tasks = [asyncio.create_task(receive()), asyncio.create_task(answers())]
        if wait_answers:
            await _in_flight(count, publish)
        else:
            for _ in range(count):
                await sender.send(seal_frame(curve_pk))
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        return meter.stop()


async def run_ours(
    meter: Meter, pub: Identity, sub: Identity, auto_ack: bool = False, key_reuse: float = 0.0
) -> Any:
    from ensync_tui.client import EnSyncEngine

    count = meter.count
    engine = EnSyncEngine(meter.peer.url, {"request_timeout": 60, "key_reuse": key_reuse})
    publisher = await engine.create_client(pub.access_key, {"appSecretKey": pub.secret_key})
    subscriber = await engine.create_client(sub.access_key, {"appSecretKey": sub.secret_key})
    received = bad = 0
    done = asyncio.Event()

    def handle(message: dict[str, Any]) -> None:
        nonlocal received, bad
        received += 1
        if message["payload"] is None:
            bad += 1
        if received >= count:
            done.set()

    subscription = await subscriber.subscribe(NAME, auto_ack=auto_ack)
    subscription.handler(handle)
    recipients = [sub.public_key]
    meter.start()
    await _in_flight(count, partial(publisher.publish, NAME, recipients, PAYLOAD))
    await asyncio.wait_for(done.wait(), TIMEOUT)
    figures = meter.stop()
    await publisher.close()
    await subscriber.close()
    if bad:
        raise RuntimeError(f"{bad} records did not decrypt")
    return figures


async def run_sdk(meter: Meter, pub: Identity, sub: Identity) -> Any:
    from ensync_sdk_ws import EnSyncEngine as SdkEngine

    count = meter.count
    url = meter.peer.url
    publisher = await SdkEngine(url).create_client(pub.access_key, {"appSecretKey": pub.secret_key})
    subscriber = await SdkEngine(url).create_client(
        sub.access_key, {"appSecretKey": sub.secret_key}
    )
    received = bad = 0
    done = asyncio.Event()

    async def handle(message: dict[str, Any]) -> None:
        nonlocal received, bad
        received += 1
        if not message.get("payload"):
            bad += 1
        if received >= count:
            done.set()

    subscriber._on(NAME, handle, None, False)
    await subscriber._subscribe_internal(NAME, {"autoAck": False})
    recipients = [sub.public_key]
    metadata = {"persist": True, "headers": {}}
    meter.start()
    await _in_flight(count, partial(publisher.publish, NAME, recipients, PAYLOAD, metadata))
    await asyncio.wait_for(done.wait(), TIMEOUT)
    figures = meter.stop()
    await publisher.close()
    await subscriber.close()
    if bad:
        raise RuntimeError(f"{bad} records did not decrypt")
    return figures


def measure(runner: Any, relay: bool = False) -> tuple[float, float, float]:
    """(msg/s, this process's CPU µs per message, the engine's CPU µs per message)."""
    from ensync_tui.engine.sandbox import make_identities

    people = make_identities(["publisher", "subscriber"])
    with Peer(list(people.values()), relay).running() as peer:
        meter = Meter(peer, COUNT)
        return asyncio.run(runner(meter, people["publisher"], people["subscriber"]))  # type: ignore[no-any-return]


VARIANTS: list[tuple[str, Any, bool]] = [
    ("ensync_tui.client", run_ours, False),
    ("  + auto-ack", partial(run_ours, auto_ack=True), False),
    ("  key_reuse=60 (opt-in)", partial(run_ours, key_reuse=60), False),
    ("ensync-sdk-ws 0.4.3", run_sdk, False),
    ("bare websockets relay", run_relay, True),
    ("  relay, fire and forget", partial(run_relay, wait_answers=False), True),
]


def main() -> None:
    logging.getLogger("ensync_tui").setLevel(logging.ERROR)
    logging.getLogger("ensync_sdk_ws").setLevel(logging.CRITICAL)
    logging.getLogger("EnSync").setLevel(logging.CRITICAL)
    import ensync_sdk_ws  # noqa: F401  (imported before any CPU is counted)

    import ensync_tui.client  # noqa: F401

    size = len(json.dumps(PAYLOAD, separators=(",", ":")))
    print(
        f"   payload {size} B, direct encryption (a fresh key pair per message), persisted;"
        f" {WINDOW} publishes in flight for every peer, each awaiting its answer;"
        " publisher and subscriber in this process, the engine in its own;"
        f" {COUNT:,} messages a run, {ROUNDS} rounds taking turns",
        flush=True,
    )
    results: dict[str, list[tuple[float, float, float]]] = {label: [] for label, *_ in VARIANTS}
    floors: list[float] = []  # crypto alone, once a round, so that it shares the round's noise
    for _ in range(ROUNDS):
        for label, runner, relay in VARIANTS:
            results[label].append(measure(runner, relay))
        floors.append(crypto_alone(COUNT // 4))
    for label, *_ in VARIANTS:
        runs = results[label]
        rates = [r[0] for r in runs]
        print(
            f"   {label:24} {statistics.median(rates):>7,.0f} msg/s"
            f" ({min(rates):,.0f}-{max(rates):,.0f})"
            f"   CPU per msg: clients {statistics.median(r[1] for r in runs):4.0f} µs,"
            f" engine {statistics.median(r[2] for r in runs):4.0f} µs",
            flush=True,
        )

    def ratio(a: str, b: str) -> tuple[float, float, float]:
        per_round = [x[0] / y[0] for x, y in zip(results[a], results[b], strict=True)]
        return statistics.median(per_round), min(per_round), max(per_round)

    ours, sdk, relay = "ensync_tui.client", "ensync-sdk-ws 0.4.3", "bare websockets relay"
    for label, (a, b, goal) in {
        "ours/sdk": (ours, sdk, "goal >= 2.0"),
        "ours/relay": (ours, relay, "goal >= 0.95"),
        "ours/relay fire and forget": (ours, "  relay, fire and forget", "a ceiling"),
        "key_reuse/sdk": ("  key_reuse=60 (opt-in)", sdk, "opt-in"),
    }.items():
        median, low, high = ratio(a, b)
        print(f"   ratio {label:27} {median:.2f}x (rounds {low:.2f}-{high:.2f})   {goal}")
    floor = statistics.median(floors)
    sdk_cpu = statistics.median(r[1] for r in results[sdk])
    print(
        f"   crypto alone (the relay's per-message work, no socket, client or engine):"
        f" {floor:.0f} µs CPU per message; a client costing only that would be"
        f" {sdk_cpu / floor:.2f}x the SDK's {sdk_cpu:.0f} µs",
        flush=True,
    )


if __name__ == "__main__":
    main()
