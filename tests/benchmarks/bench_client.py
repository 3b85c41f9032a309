"""End-to-end throughput: publisher client -> local engine -> subscriber client.

Our client and the official ``ensync-sdk-ws`` drive the same engine (its own
process, SQLite file) in one run: direct encryption to one recipient,
persisted, 700-byte payloads. Prints both rates and the ratio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import multiprocessing
import os
import resource
import tempfile
import time
from functools import partial
from typing import Any

from ensync_tui.engine.sandbox import Identity

NAME = "bench/orders"
PAYLOAD = {"order": "o-1", "data": "x" * 675}  # 700 bytes of JSON
OURS_COUNT = 20_000
OURS_WINDOW = 1024  # publishes in flight
SDK_COUNT = 3_000
TIMEOUT = 60.0


def _serve(identities: list[Identity], db: str, ready: Any, stop: Any) -> None:
    from ensync_tui.engine import EngineServer
    from ensync_tui.engine.sandbox import sandbox_config

    async def run() -> None:
        # a wide window, as the relay has: this measures the clients, not need-based push
        cfg = sandbox_config(identities, [NAME], port=0, db=db, max_in_flight=100_000)
        async with EngineServer(cfg) as server:
            ready.send(server.url)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, stop.wait)

    asyncio.run(run())


def _relay(ready: Any, stop: Any) -> None:
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
            ready.send(f"ws://127.0.0.1:{port}")
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(run())


async def run_relay(url: str, pub: Identity, sub: Identity, count: int) -> float:
    """The protocol's own work over bare websockets, without our client or engine.

    Per message the publisher makes a key pair, boxes and base64-encodes the
    envelope; the subscriber decodes it, opens the box and parses the JSON.
    """
    from nacl import bindings
    from websockets.asyncio.client import connect

    curve_pk = bindings.crypto_sign_ed25519_pk_to_curve25519(base64.b64decode(sub.public_key))
    curve_sk = bindings.crypto_sign_ed25519_sk_to_curve25519(base64.b64decode(sub.secret_key))
    plaintext = json.dumps(PAYLOAD, separators=(",", ":")).encode()
    b64 = base64.b64encode
    async with (
        connect(url + "/subscriber", compression=None) as receiver,
        connect(url + "/publisher", compression=None) as sender,
    ):
        await asyncio.sleep(0.1)  # the relay knows its subscriber

        async def receive() -> None:
            for _ in range(count):
                envelope = json.loads(base64.b64decode(await receiver.recv()))
                opened = bindings.crypto_box_open(
                    base64.b64decode(envelope["ciphertext"]),
                    base64.b64decode(envelope["nonce"]),
                    base64.b64decode(envelope["ephemeralPublicKey"]),
                    curve_sk,
                )
                json.loads(opened)

        async def answers() -> None:
            for _ in range(count):
                await sender.recv()

        start = time.perf_counter()
        tasks = [asyncio.create_task(receive()), asyncio.create_task(answers())]
        for _ in range(count):
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
            await sender.send(b64(envelope).decode())
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        return count / (time.perf_counter() - start)


@contextlib.contextmanager
def engine_process(identities: list[Identity], relay: bool = False):
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    stop = ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        if relay:
            proc = ctx.Process(target=_relay, args=(child, stop))
        else:
            db = os.path.join(tmp, "e.db")
            proc = ctx.Process(target=_serve, args=(identities, db, child, stop))
        proc.start()
        try:
            if not parent.poll(30):
                raise RuntimeError("engine did not start")
            yield parent.recv()
        finally:
            stop.set()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()


async def run_ours(
    url: str,
    pub: Identity,
    sub: Identity,
    count: int,
    auto_ack: bool = False,
    key_reuse: float = 0.0,
) -> float:
    from ensync_tui.client import EnSyncEngine

    engine = EnSyncEngine(url, {"request_timeout": 60, "key_reuse": key_reuse})
    publisher = await engine.create_client(pub.access_key, {"appSecretKey": pub.secret_key})
    subscriber = await engine.create_client(sub.access_key, {"appSecretKey": sub.secret_key})
    received = 0
    done = asyncio.Event()
    bad = 0

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
    start = time.perf_counter()

    async def worker(n: int) -> None:  # OURS_WINDOW of these keep that many in flight
        for _ in range(n):
            await publisher.publish(NAME, recipients, PAYLOAD)

    share, extra = divmod(count, OURS_WINDOW)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(OURS_WINDOW)))
    await asyncio.wait_for(done.wait(), TIMEOUT)
    elapsed = time.perf_counter() - start
    await publisher.close()
    await subscriber.close()
    if bad:
        raise RuntimeError(f"{bad} records did not decrypt")
    return count / elapsed


async def run_sdk(url: str, pub: Identity, sub: Identity, count: int) -> float:
    from ensync_sdk_ws import EnSyncEngine as SdkEngine

    publisher = await SdkEngine(url).create_client(pub.access_key, {"appSecretKey": pub.secret_key})
    subscriber = await SdkEngine(url).create_client(
        sub.access_key, {"appSecretKey": sub.secret_key}
    )
    received = 0
    done = asyncio.Event()

    async def handle(message: dict[str, Any]) -> None:
        nonlocal received
        received += 1
        if received >= count:
            done.set()

    subscriber._on(NAME, handle, None, False)
    await subscriber._subscribe_internal(NAME, {"autoAck": False})
    start = time.perf_counter()
    for _ in range(count):  # the SDK waits for each answer
        await publisher.publish(NAME, [sub.public_key], PAYLOAD, {"persist": True, "headers": {}})
    await asyncio.wait_for(done.wait(), TIMEOUT)
    elapsed = time.perf_counter() - start
    await publisher.close()
    await subscriber.close()
    return count / elapsed


def measure(runner: Any, count: int) -> tuple[float, float, float]:
    """(msg/s, client CPU µs per message, engine CPU µs per message)."""
    from ensync_tui.engine.sandbox import make_identities

    people = make_identities(["publisher", "subscriber"])
    engine_before = _children_cpu()
    with engine_process(list(people.values()), relay=runner is run_relay) as url:
        cpu = time.process_time()
        rate = asyncio.run(runner(url, people["publisher"], people["subscriber"], count))
        cpu = time.process_time() - cpu
    engine_cpu = _children_cpu() - engine_before
    return rate, cpu / count * 1e6, engine_cpu / count * 1e6


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    logging.getLogger("ensync_tui").setLevel(logging.ERROR)
    size = len(__import__("json").dumps(PAYLOAD, separators=(",", ":")))
    print(f"   payload {size} B, direct encryption, persisted, engine in its own process")
    variants = [
        ("ensync_tui.client", run_ours, OURS_COUNT // 2),
        ("  + auto-ack", partial(run_ours, auto_ack=True), OURS_COUNT // 2),
        ("  key_reuse=60 (opt-in)", partial(run_ours, key_reuse=60), OURS_COUNT),
        ("ensync-sdk-ws 0.4.3", run_sdk, SDK_COUNT),
        ("bare websockets relay", run_relay, OURS_COUNT // 2),
    ]
    rates = []
    for label, runner, count in variants:
        rate, client_cpu, engine_cpu = measure(runner, count)
        rates.append(rate)
        print(
            f"   {label:20} {count:>6} msgs {rate:>9,.0f} msg/s"
            f"   CPU per msg: clients {client_cpu:4.0f} µs, engine {engine_cpu:4.0f} µs",
            flush=True,
        )
    ours, _acked, reuse, sdk, relay = rates
    print(
        f"   ratio ours/sdk {ours / sdk:.1f}x by default (a fresh key per message, as the SDK),"
        f" {reuse / sdk:.1f}x with key_reuse=60 (goals: >= 10,000 msg/s, >= 3x)"
    )
    print(
        f"   ours/relay {ours / relay:.2f}: the relay does the same crypto over bare websockets,"
        " with no parsing, no storage and no client bookkeeping"
    )


if __name__ == "__main__":
    main()
