"""Routing and delivery shared by every connection: identities, permissions,
subscriptions, pause, deferred redelivery, at-least-once.

Each connection's subscriptions (:class:`~ensync_tui.engine.delivery.Consumer`)
are registered here so that a stored message reaches every live subscriber of
its recipient and name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from typing import Any

from ensync_tui.engine.config import ClientSpec, EngineConfig, MessageSpec
from ensync_tui.engine.delivery import Consumer, Message
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
        self.writer = Writer(store, on_commit=self._delivered_new)
        self.by_access_key = {c.access_key: c for c in cfg.clients}
        self.by_public_key = {c.public_key: c for c in cfg.clients}
        self.client_ids = {c.public_key: client_id_for(c.access_key) for c in cfg.clients}
        self.messages: dict[str, MessageSpec] = {m.name: m for m in cfg.messages}
        self._seq = store.last_seq
        self._blocks = dict(store.last_blocks)
        self._random = b""
        self._random_at = 0
        self._subs: dict[tuple[str, str], list[Consumer]] = {}
        self._paused: set[tuple[str, str]] = set()
        self._connected: dict[str, int] = {}  # public key -> authenticated connections
        self._allowed: dict[tuple[str, str, str], bool] = {}
        self._metadata: dict[str, tuple[str, bool]] = {}
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._timer = asyncio.create_task(self._deferred_loop(), name="ensync-deferred")

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()
        await self.writer.close()

    # ------------------------------------------------------------- identities

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

    # ---------------------------------------------------------------- routing

    def subscribe(self, sub: Consumer) -> None:
        self._subs.setdefault(sub.key, []).append(sub)

    def unsubscribe(self, sub: Consumer) -> None:
        subs = self._subs.get(sub.key)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._subs[sub.key]

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
        self._paused = {key for key in self._paused if key[0] != client.public_key}

    def is_paused(self, key: tuple[str, str]) -> bool:
        return key in self._paused

    def pause(self, key: tuple[str, str]) -> None:
        self._paused.add(key)

    def resume(self, key: tuple[str, str]) -> None:
        self._paused.discard(key)
        for sub in self._subs.get(key, ()):
            sub.resync()

    def route(self, message: Message) -> None:
        for sub in self._subs.get((message.recipient, message.name), ()):
            sub.offer(message)

    def forget(self, message: Message) -> None:
        """The message left the pending state: stop tracking it as in flight."""
        self.forget_seq(message.recipient, message.name, message.seq)

    def forget_seq(self, recipient: str, name: str, seq: int) -> None:
        for sub in self._subs.get((recipient, name), ()):
            sub.inflight.discard(seq)

    def redeliver(self, message: Message) -> None:
        for sub in self._subs.get((message.recipient, message.name), ()):
            sub.inflight.discard(message.seq)
            sub.offer(message)

    def _delivered_new(self, messages: list[NewMessage]) -> None:
        subs = self._subs
        if not subs:
            return
        for m in messages:
            targets = subs.get((m.recipient, m.name))
            if targets:
                for sub in targets:
                    sub.offer(m)

    def wake_deferred(self) -> None:
        self._wake.set()

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
                    self.route(m)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deferred delivery failed; retrying in 1 s")
                await asyncio.sleep(1)
