"""What every connection shares: identities, permissions, message numbering,
and one delivery :class:`~ensync_tui.engine.delivery.Queue` per recipient and
message name, with the timers that make deferred records due and unanswered
ones pending again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from ensync_tui.engine.config import ClientSpec, EngineConfig, MessageSpec
from ensync_tui.engine.delivery import Consumer, Message, Queue, Sink
from ensync_tui.engine.store import NewMessage, Store, StoredMessage, now_ms
from ensync_tui.engine.writer import Writer

log = logging.getLogger("ensync_tui.engine")

_NAMESPACE = uuid.UUID("6f1d3c52-5a0e-4a8e-9a53-2d1c0e6b7a11")


def client_id_for(access_key: str) -> str:
    """A stable client ID per access key that does not reveal the key."""
    return str(uuid.uuid5(_NAMESPACE, access_key))


IDEM_BYTES = 12  # random bytes per idem: 24 hex digits
_RANDOM_CHUNK = IDEM_BYTES * 1024
_METADATA_TEXT = 512  # metadata texts longer than this are not remembered


class Broker:
    """Engine state shared by every connection."""

    def __init__(self, cfg: EngineConfig, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        clock = cfg.clock
        self.now_ms = now_ms if clock is None else (lambda: int(clock() * 1000))
        self.clock = time.monotonic if clock is None else clock  # for leases
        self.ack_wait = cfg.ack_wait
        self.writer = Writer(store, on_commit=self._delivered_new)
        self.by_access_key = {c.access_key: c for c in cfg.clients}
        self.by_public_key = {c.public_key: c for c in cfg.clients}
        self.client_ids = {c.public_key: client_id_for(c.access_key) for c in cfg.clients}
        self.messages: dict[str, MessageSpec] = {m.name: m for m in cfg.messages}
        self._seq = store.last_seq
        self._blocks = dict(store.last_blocks)
        self._random = b""
        self._random_at = 0
        self.queues: dict[tuple[str, str], Queue] = {}
        self._leasing: set[Queue] = set()  # queues with records in flight
        self._lease_wake = asyncio.Event()
        self._lease_next: float | None = None  # when the lease timer looks again
        self._connected: dict[str, int] = {}  # public key -> authenticated connections
        self._allowed: dict[tuple[str, str, str], bool] = {}
        self._metadata: dict[str, tuple[str, bool]] = {}
        self._wake = asyncio.Event()
        self._timers: list[asyncio.Task[None]] = []

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._timers = [
            asyncio.create_task(self._deferred_loop(), name="ensync-deferred"),
            asyncio.create_task(self._lease_loop(), name="ensync-leases"),
        ]

    async def stop(self) -> None:
        for task in self._timers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self.queues.values():
            queue.close()
        await self.writer.close()

    # ------------------------------------------------------------- identities
    # the live view the management API changes (registry.py): sessions look
    # identities and names up here on every request

    def set_client(self, spec: ClientSpec) -> None:
        self.by_access_key[spec.access_key] = spec
        self.by_public_key[spec.public_key] = spec
        self.client_ids[spec.public_key] = client_id_for(spec.access_key)
        self._allowed.clear()

    def drop_client(self, spec: ClientSpec) -> None:
        if self.by_access_key.get(spec.access_key) is spec:
            del self.by_access_key[spec.access_key]
        if self.by_public_key.get(spec.public_key) is spec:
            del self.by_public_key[spec.public_key]
        self._allowed.clear()

    def permissions_changed(self) -> None:
        """Permissions were changed in place: forget what was worked out from them."""
        self._allowed.clear()

    def set_message(self, spec: MessageSpec) -> None:
        self.messages[spec.name] = spec

    def drop_message(self, name: str) -> None:
        self.messages.pop(name, None)

    def reset_view(self, clients: list[ClientSpec], messages: list[MessageSpec]) -> None:
        for table in (self.by_access_key, self.by_public_key, self.client_ids, self.messages):
            table.clear()
        for client in clients:
            self.set_client(client)
        for message in messages:
            self.set_message(message)

    def new_message(
        self,
        name: str,
        sender: str,
        recipient: str,
        payload: str,
        metadata: str,
        persist: bool,
    ) -> NewMessage:
        self._seq += 1
        block = self._blocks.get(name, 0) + 1
        self._blocks[name] = block
        return NewMessage(
            self._seq,
            self.new_idem(),
            name,
            block,
            self.now_ms(),
            sender,
            recipient,
            payload,
            metadata,
            persist,
        )

    def new_idem(self) -> str:
        """A message ID no one can guess or count from: 96 random bits in hex
        (safe in URLs, frames and command lines)."""
        at = self._random_at
        if at >= len(self._random):
            self._random, at = os.urandom(_RANDOM_CHUNK), 0
        self._random_at = at + IDEM_BYTES
        return self._random[at : at + IDEM_BYTES].hex()

    def may(self, client: ClientSpec, action: str, name: str) -> bool:
        """Permission check, remembered per (client, action, name)."""
        key = (client.public_key, action, name)
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = client.may_send(name) if action == "send" else client.may_receive(name)
            if len(self._allowed) > 100_000:
                self._allowed.clear()
            self._allowed[key] = allowed
        return allowed

    def stored_metadata(self, metadata: dict[str, Any], raw: str | None) -> tuple[str, bool]:
        """The metadata as stored (compact, with persist and headers) and its persist flag."""
        if raw is not None:
            known = self._metadata.get(raw)
            if known is not None:
                return known
        persist = metadata.get("persist", True) is not False
        if "persist" not in metadata or "headers" not in metadata:
            metadata = {"persist": persist, "headers": {}, **metadata}
        result = (json.dumps(metadata, separators=(",", ":"), ensure_ascii=False), persist)
        if raw is not None and len(raw) <= _METADATA_TEXT:
            if len(self._metadata) > 1024:
                self._metadata.clear()
            self._metadata[raw] = result
        return result

    # --------------------------------------------------------------- delivery

    def queue(self, recipient: str, name: str) -> Queue:
        key = (recipient, name)
        queue = self.queues.get(key)
        if queue is None:  # one per identity and registered name at most
            queue = self.queues[key] = Queue(self, recipient, name)
        return queue

    def subscribe(
        self, sink: Sink, client: ClientSpec, name: str, who: Callable[[], str] = str
    ) -> Consumer:
        return self.queue(client.public_key, name).add(sink, self.cfg.max_in_flight, who)

    def attach(self, client: ClientSpec) -> None:
        self._connected[client.public_key] = self._connected.get(client.public_key, 0) + 1

    def detach(self, client: ClientSpec) -> None:
        """A connection of ``client`` ended; with its last one, its pauses end too
        (what waited is still pending and comes with the next SUB)."""
        left = self._connected.get(client.public_key, 0) - 1
        if left > 0:
            self._connected[client.public_key] = left
            return
        self._connected.pop(client.public_key, None)
        for (recipient, _), queue in self.queues.items():
            if recipient == client.public_key:
                queue.paused = False

    def pause(self, recipient: str, name: str) -> None:
        self.queue(recipient, name).pause()

    def resume(self, recipient: str, name: str) -> None:
        self.queue(recipient, name).resume()

    def answered(self, recipient: str, name: str, seq: int, keep_count: bool = False) -> None:
        """A record was acked, discarded or deferred (``keep_count``): its lease ends."""
        queue = self.queues.get((recipient, name))
        if queue is not None:
            queue.answered(seq, keep_count)

    def pending_again(self, message: Message, delivered: bool = False) -> None:
        """``message`` is pending again (rolled back, or a deferral ended)."""
        self.queue(message.recipient, message.name).pending_again(message.seq, delivered)

    def _delivered_new(self, messages: list[NewMessage]) -> None:
        queues = self.queues
        if not queues:
            return
        for m in messages:
            queue = queues.get((m.recipient, m.name))
            if queue is not None:
                queue.offer(m)

    # ----------------------------------------------------------------- timers

    def wake_deferred(self) -> None:
        self._wake.set()

    def wake_timers(self) -> None:
        """Look at deferred records and leases now (after a DEFER, or when a
        test moved an injected clock)."""
        self._wake.set()
        self._lease_wake.set()

    def leased(self, queue: Queue) -> None:
        self._leasing.add(queue)
        if self._lease_next is None:  # the timer sleeps with nothing to look at
            self._lease_wake.set()

    async def _lease_loop(self) -> None:
        """Records unanswered for ack_wait seconds are pending again and go out again."""
        while True:
            self._lease_wake.clear()
            now = self.clock()
            earliest: float | None = None
            for queue in list(self._leasing):
                try:
                    ended, due = queue.expire(now)
                except Exception:  # a bug here must not stop redelivery for the others
                    log.exception("redelivery of %r failed", queue.key[1])
                    ended, due = 0, now + 1
                if ended:
                    log.info(
                        "%d record(s) of %s to %s unanswered for %g s: delivering again",
                        ended,
                        queue.key[1],
                        _name_of(self.by_public_key.get(queue.key[0])),
                        self.ack_wait,
                    )
                if due is None:
                    self._leasing.discard(queue)
                elif earliest is None or due < earliest:
                    earliest = due
            self._lease_next = earliest
            timeout = None if earliest is None else max(earliest - now, 0.001)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lease_wake.wait(), timeout)

    def _promote(self) -> list[StoredMessage]:
        return self.store.promote_due(self.now_ms())

    async def _deferred_loop(self) -> None:
        """Make deferred messages pending again when they are due, and deliver them."""
        while True:
            self._wake.clear()
            try:
                due = await self.writer.call(self.store.next_due)
                now = self.now_ms()
                if due is None or due > now:
                    timeout = None if due is None else (due - now) / 1000
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
                    continue
                for m in await self.writer.call(self._promote):
                    self.pending_again(m, delivered=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deferred delivery failed; retrying in 1 s")
                await asyncio.sleep(1)


def _name_of(client: ClientSpec | None) -> str:
    return "?" if client is None else client.name
