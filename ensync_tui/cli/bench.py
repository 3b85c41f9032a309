"""`ensync-tui bench`: publish and delivery rates and end-to-end latency.

Like ``nats bench``: publishers share ``--count`` messages of ``--size`` bytes
and publish them to the subscribers, which acknowledge each one. Each payload
carries its send time, so the subscribers measure publish-to-handler latency.

With ``--local`` (the default when no engine is configured) an engine runs in
this process with a temporary database and one identity per publisher and
subscriber; every message goes to every subscriber. Against a configured
engine all connections use the configured identity and publish to itself:
each message is then delivered once, to whichever subscriber the engine picks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ensync_tui.cli.options import positive_int, settings_from
from ensync_tui.cli.output import shown, shown_json, warn
from ensync_tui.errors import CommandError, UsageError

DEFAULT_NAME = "bench/load"


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "bench",
        parents=[conn],
        help="measure publish and delivery rates and latency",
        description="Publish --count messages of --size bytes from --publishers connections "
        "to --subscribers connections and report rates and latency percentiles. --local "
        "(the default when no engine is configured) runs an engine in this process.",
    )
    p.add_argument("--publishers", type=positive_int, default=1, metavar="N", help="default 1")
    p.add_argument("--subscribers", type=positive_int, default=1, metavar="N", help="default 1")
    p.add_argument(
        "--count", type=positive_int, default=1000, metavar="N", help="messages in all (1000)"
    )
    p.add_argument(
        "--size", type=positive_int, default=128, metavar="B", help="payload bytes (128)"
    )
    p.add_argument(
        "--window",
        type=positive_int,
        default=32,
        metavar="N",
        help="publishes in flight per publisher (32)",
    )
    p.add_argument(
        "--name", default=DEFAULT_NAME, metavar="NAME", help=f"message name ({DEFAULT_NAME})"
    )
    p.add_argument("--local", action="store_true", help="run an engine in this process")
    p.add_argument(
        "--timeout", type=positive_int, default=60, metavar="S", help="give up after S seconds"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=run)


@dataclass(slots=True)
class Results:
    publishers: int
    subscribers: int
    count: int
    size: int
    url: str = ""
    local: bool = False
    published: int = 0
    expected: int = 0
    delivered: int = 0
    decrypt_errors: int = 0
    publish_seconds: float = 0.0
    delivery_seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return math.nan
        rank = max(0, math.ceil(q / 100 * len(data)) - 1)
        return data[rank]

    def summary(self) -> dict[str, Any]:
        def rate(n: int, seconds: float) -> float:
            return round(n / seconds, 1) if seconds > 0 else 0.0

        return {
            "url": self.url,
            "local": self.local,
            "publishers": self.publishers,
            "subscribers": self.subscribers,
            "size": self.size,
            "published": self.published,
            "delivered": self.delivered,
            "expected": self.expected,
            "decryptErrors": self.decrypt_errors,
            "publishSeconds": round(self.publish_seconds, 3),
            "deliverySeconds": round(self.delivery_seconds, 3),
            "publishRate": rate(self.published, self.publish_seconds),
            "deliveryRate": rate(self.delivered, self.delivery_seconds),
            "latencyMs": {
                name: round(self.percentile(q), 2)
                for name, q in (("min", 0), ("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
            },
        }


def run(args: argparse.Namespace) -> int:
    from ensync_tui.cli.running import run as run_async

    settings = settings_from(args)
    local = args.local or not settings.can_connect
    if args.count < args.publishers:
        raise UsageError("--count: must be at least --publishers")
    if not local and not settings.app_secret_key:
        raise UsageError("bench needs --app-secret-key (or a profile with one) to decrypt")
    progress = Progress(enabled=sys.stderr.isatty())
    try:
        results = run_async(lambda: _bench(args, settings, local, progress))
    except CommandError as exc:
        if not local and "unknown message name" in str(exc):
            raise CommandError(
                f"{exc}: bench publishes to --name (default {DEFAULT_NAME}); pass a name "
                "this engine knows, or --local"
            ) from None
        raise
    if isinstance(results, int):  # stopped by Ctrl+C or SIGTERM: its exit code, no figures
        progress.finish(None)
        return results
    if args.json:
        print(shown_json(json.dumps(results.summary())))
    else:
        print("\n".join(shown(line) for line in format_table(results).split("\n")))
    if results.delivered < results.expected or results.decrypt_errors:
        warn(
            f"error: {results.expected - results.delivered} of {results.expected} deliveries "
            f"missing, {results.decrypt_errors} decrypt errors"
        )
        return 1
    return 0


async def _bench(
    args: argparse.Namespace, settings: Any, local: bool, progress: Progress
) -> Results:
    import shutil
    import tempfile
    from pathlib import Path

    results = Results(args.publishers, args.subscribers, args.count, args.size, local=local)
    if not local:
        results.url = settings.url
        pubs = [(settings.access_key, settings.app_secret_key, settings)] * args.publishers
        subs = [(settings.access_key, settings.app_secret_key, settings)] * args.subscribers
        recipients = ["self"]
        results.expected = args.count
        return await _measure(args, pubs, subs, recipients, results, progress)

    from ensync_tui.engine import EngineServer, MessageSpec
    from ensync_tui.engine.sandbox import make_identities, sandbox_config

    names = [f"pub-{i}" for i in range(args.publishers)]
    names += [f"sub-{i}" for i in range(args.subscribers)]
    ids = make_identities(names)
    tmp = Path(tempfile.mkdtemp(prefix="ensync-tui-bench-"))
    cfg = sandbox_config(ids, [MessageSpec(args.name)], port=0, db=str(tmp / "bench.db"))
    engine = ThreadedEngine(EngineServer(cfg))
    try:
        await engine.start()
        results.url = engine.server.url
        url_settings = _local_settings(engine.server.url)
        pubs = [(ids[n].access_key, ids[n].secret_key, url_settings) for n in names if "pub" in n]
        subs = [(ids[n].access_key, ids[n].secret_key, url_settings) for n in names if "sub" in n]
        recipients = [ids[n].public_key for n in names if n.startswith("sub-")]
        results.expected = args.count * args.subscribers
        return await _measure(args, pubs, subs, recipients, results, progress)
    finally:
        await engine.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class ThreadedEngine:
    """The local engine on its own event loop in a thread, so that the clients
    being measured do not share a loop with it."""

    def __init__(self, server: Any) -> None:
        import threading

        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench engine")

    async def _call(self, coro: Any) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def start(self) -> None:
        self.thread.start()
        await self._call(self.server.start())

    async def stop(self) -> None:
        try:
            if self.thread.is_alive():
                await self._call(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self.thread.join, 10)
            self.loop.close()


def _local_settings(url: str) -> Any:
    from ensync_tui.settings import Settings

    return Settings(url=url)


async def _measure(
    args: argparse.Namespace,
    pubs: list[tuple[str, str | None, Any]],
    subs: list[tuple[str, str | None, Any]],
    recipients: list[str],
    results: Results,
    progress: Progress,
) -> Results:
    import secrets
    from contextlib import AsyncExitStack

    from ensync_tui.cli.running import connect

    run_id = secrets.token_hex(6)
    done = asyncio.Event()
    seen: set[tuple[str, int, int]] = set()
    last_delivery = 0.0

    def handler_for(identity: str) -> Any:
        def on_message(message: dict[str, Any]) -> None:
            nonlocal last_delivery
            payload = message.get("payload")
            if message.get("decryptError"):
                results.decrypt_errors += 1
                return
            if not isinstance(payload, dict) or payload.get("run") != run_id:
                return  # left over from an earlier run
            key = (identity, payload["pub"], payload["seq"])
            if key in seen:
                return  # delivered again (at-least-once): count it once
            seen.add(key)
            results.latencies_ms.append((time.time_ns() - payload["sentAt"]) / 1e6)
            results.delivered += 1
            last_delivery = time.perf_counter()
            progress.update(results)
            if results.delivered >= results.expected:
                done.set()

        return on_message

    async with AsyncExitStack() as stack:
        for access_key, secret, settings in subs:
            client = await stack.enter_async_context(
                _connect_as(connect, settings, access_key, secret)
            )
            sub = client.subscribe(args.name, auto_ack=True)
            sub.handler(handler_for(access_key))
            await sub
        pub_clients = [
            await stack.enter_async_context(_connect_as(connect, settings, access_key, secret))
            for access_key, secret, settings in pubs
        ]
        if recipients == ["self"]:
            recipients = [pub_clients[0].get_client_public_key()]
        shares = _split(args.count, len(pub_clients))
        pad = "x" * max(0, args.size - _overhead(run_id))
        metadata: dict[str, Any] = {"persist": True, "headers": {}}
        first_send = time.perf_counter()

        async def publisher(index: int, client: Any, count: int) -> None:
            window = asyncio.Semaphore(args.window)
            tasks = []

            async def one(seq: int) -> None:
                try:
                    payload = {
                        "run": run_id,
                        "pub": index,
                        "seq": seq,
                        "sentAt": time.time_ns(),
                        "pad": pad,
                    }
                    await client.publish(args.name, recipients, payload, metadata)
                    results.published += 1
                    progress.update(results)
                finally:
                    window.release()

            try:
                for seq in range(count):
                    await window.acquire()
                    tasks.append(asyncio.create_task(one(seq)))
                await asyncio.gather(*tasks)
            finally:  # stopped: no publish is left running, none fails unheard
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        jobs = [
            asyncio.create_task(publisher(i, c, n))
            for i, (c, n) in enumerate(zip(pub_clients, shares, strict=True))
        ]
        try:
            _, late = await asyncio.wait(jobs, timeout=args.timeout)
            if late:
                raise CommandError(f"publishing took longer than --timeout {args.timeout} s")
            for job in jobs:
                job.result()  # a publisher's failure is the run's
        finally:  # stopped or failed: every publisher ends here, its outcome read
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
        results.publish_seconds = time.perf_counter() - first_send
        try:
            remaining = max(0.1, args.timeout - results.publish_seconds)
            await asyncio.wait_for(done.wait(), remaining)
        except TimeoutError:
            pass
        results.delivery_seconds = (last_delivery or time.perf_counter()) - first_send
        progress.finish(results)
    return results


def _connect_as(connect: Any, settings: Any, access_key: str, secret: str | None) -> Any:
    from dataclasses import replace

    return connect(replace(settings, access_key=access_key, app_secret_key=secret))


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _overhead(run_id: str) -> int:
    sample = {"run": run_id, "pub": 0, "seq": 0, "sentAt": time.time_ns(), "pad": ""}
    return len(json.dumps(sample, separators=(",", ":")))


class Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, enabled: bool, width: int = 30) -> None:
        self.enabled = enabled
        self.width = width
        self._last = 0.0

    def update(self, results: Results, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        total = max(1, results.expected)
        filled = int(self.width * min(1.0, results.delivered / total))
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(
            f"\r[{bar}] published {results.published}/{results.count}  "
            f"delivered {results.delivered}/{results.expected}"
        )
        sys.stderr.flush()

    def finish(self, results: Results | None) -> None:
        """End the bar's line (drawn last with ``results``, if given)."""
        if self.enabled and (results is not None or self._last):
            if results is not None:
                self.update(results, force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def format_table(results: Results) -> str:
    s = results.summary()
    where = f"local engine {s['url']}" if s["local"] else s["url"]
    lines = [
        f"{s['published']} messages of {s['size']} B, {s['publishers']} publisher(s) -> "
        f"{s['subscribers']} subscriber(s), {where}",
        "",
        f"{'':10} {'msgs':>8} {'seconds':>9} {'msgs/s':>10} {'MB/s':>8}",
    ]
    for label, n, seconds, rate in (
        ("publish", s["published"], s["publishSeconds"], s["publishRate"]),
        ("delivery", s["delivered"], s["deliverySeconds"], s["deliveryRate"]),
    ):
        mbs = rate * results.size / 1e6
        lines.append(f"{label:10} {n:>8} {seconds:>9.3f} {rate:>10.1f} {mbs:>8.2f}")
    lat = s["latencyMs"]
    lines += [
        "",
        "latency, publish to handler (ms)",
        "  ".join(f"{k} {v:.2f}" for k, v in lat.items()),
    ]
    if s["delivered"] < s["expected"]:
        lines.append(f"missing: {s['expected'] - s['delivered']} of {s['expected']} deliveries")
    return "\n".join(lines)
