"""The public API, shaped like the official SDK's: EnSyncEngine, EnSyncClient, Subscription.

    engine = EnSyncEngine("ws://localhost:8082")
    client = await engine.create_client(access_key, {"appSecretKey": secret})
    await client.publish("orders/status", [public_key], {"order_id": "1"})
    sub = client.subscribe("orders/status")

    @sub.handler
    async def handle(message): ...

A thin facade: the checks are in :mod:`.checks`, publishing in :mod:`.publishing`,
subscriptions in :mod:`.subscription`, the link in :mod:`.transport` around the
sans-I/O :mod:`.connection`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any

from ensync_tui.client.checks import (
    check_block,
    check_delay,
    check_idem,
    check_name,
    check_reason,
    check_secret,
)
from ensync_tui.client.connection import ConnectionState
from ensync_tui.client.errors import (
    EnSyncConnectionError,
    EnSyncReplayError,
    EnSyncValidationError,
)
from ensync_tui.client.options import DEFAULT_URL, Options, message_url, parse_options, ssl_context
from ensync_tui.client.publishing import pub_frames, send_pubs
from ensync_tui.client.sealing import Opener, Sealer
from ensync_tui.client.subscription import Subscription, to_message
from ensync_tui.client.transport import Transport
from ensync_tui.protocol import crypto, frames, replies

__all__ = ["EnSyncClient", "EnSyncEngine", "Subscription", "to_message"]

log = logging.getLogger("ensync_tui.client")


class EnSyncEngine:
    """Where to connect and how; makes authenticated clients."""

    def __init__(self, url: str = DEFAULT_URL, options: Mapping[str, Any] | None = None) -> None:
        self.url = message_url(url)
        self.options: Options = parse_options(options)
        ssl_context(self.url, self.options)  # a bad ca_file is refused here, not at connect
        if self.options.enable_logging and not log.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(name)s - %(levelname)s - %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)

    async def create_client(
        self,
        access_key: str,
        options: Mapping[str, Any] | None = None,
        *,
        app_secret_key: str | None = None,
        retry: bool = False,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> EnSyncClient:
        """Connect and authenticate; raises EnSyncAuthError or EnSyncConnectionError.

        With ``retry`` the first connection is also tried again on the reconnect
        schedule (``reconnect_interval`` doubling up to ``max_reconnect_delay``, for
        ``max_reconnect_attempts``, 0 = until it works); a refused login is never
        retried. ``on_state`` is called with each connection state from the first on.
        """
        if not isinstance(access_key, str) or not access_key:
            raise EnSyncValidationError("access key must be a non-empty string")
        opts = dict(options or {})
        secret = app_secret_key or opts.get("appSecretKey") or opts.get("app_secret_key")
        client = EnSyncClient(self.url, access_key, self.options, check_secret(secret), on_state)
        await client._transport.open(retry=retry)
        return client


class EnSyncClient:
    """An authenticated connection: publish, subscribe and control delivery."""

    def __init__(
        self,
        url: str,
        access_key: str,
        options: Options,
        app_secret_key: str | None,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> None:
        self.url = url
        self._secret = app_secret_key
        self._subs: dict[str, Subscription] = {}
        self._sealer = Sealer(ttl=options.key_reuse)
        self._opener = Opener()
        self._transport = Transport(
            url, access_key, options, on_record=self._on_record, on_state=on_state
        )

    def __repr__(self) -> str:
        return f"<EnSyncClient {self.url} {self.state.status} id={self.client_id!r}>"

    # ------------------------------------------------------------ identity and state

    @property
    def client_id(self) -> str:
        return self._transport.conn.client_id

    def get_client_public_key(self) -> str:
        if self._transport.conn.client_hash:
            return self._transport.conn.client_hash
        return crypto.public_key_of(self._secret) if self._secret else ""

    @property
    def state(self) -> ConnectionState:
        return self._transport.state

    def state_changes(self) -> AsyncIterator[ConnectionState]:
        return self._transport.state_changes()

    async def ping(self) -> float:
        return await self._transport.ping()

    def reconnect_now(self) -> bool:
        """While the connection is lost, try again now instead of after the backoff
        wait; False when no reconnect is waiting. Call it on the client's loop."""
        return self._transport.nap.wake()

    async def close(self) -> None:
        await self._transport.close()
        me = asyncio.current_task()
        workers = [s._stop() for s in self._subs.values()]
        waits = [w for w in workers if w is not None and w is not me]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        self._subs.clear()

    async def __aenter__(self) -> EnSyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ publish

    async def publish(
        self,
        name: str,
        recipients: list[str],
        payload: Any,
        metadata: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Encrypt and send one PUB per recipient, pipelined; the engine's answer for each."""
        texts = pub_frames(
            self.client_id, name, recipients, payload, metadata, options, self._sealer
        )
        return await send_pubs(self._transport, recipients, texts)

    # ------------------------------------------------------------ subscribe

    def subscribe(
        self,
        name: str,
        auto_ack: bool = True,
        app_decrypt_key: str | None = None,
        decrypt: bool = True,
        **options: Any,
    ) -> Subscription:
        """A subscription; ``await`` it or register a handler to send SUB."""
        check_name(name)
        if "autoAck" in options:
            auto_ack = bool(options.pop("autoAck"))
        if "appSecretKey" in options:
            app_decrypt_key = options.pop("appSecretKey")
        if options:
            raise EnSyncValidationError(f"unknown subscribe option(s): {', '.join(options)}")
        if self._transport.closed:
            raise EnSyncConnectionError("the client is closed")
        existing = self._subs.get(name)
        if existing is not None:
            return existing
        sub = Subscription(self, name, auto_ack, check_secret(app_decrypt_key), decrypt)
        self._subs[name] = sub
        return sub

    def _on_record(self, record: replies.Record) -> None:
        sub = self._subs.get(record.name)
        if sub is None:
            log.debug("record for %s with no subscription left unacknowledged", record.name)
            return
        sub._deliver(record)

    async def _call(self, req: frames.Request) -> Any:
        return await self._transport.request(req)

    # ------------------------------------------------------------ delivery control by name

    async def ack(self, name: str, idem: str, block: int | str) -> str:
        req = frames.Ack(self.client_id, check_idem(idem), check_block(block), check_name(name))
        answer: replies.Pass = await self._call(req)
        return answer.encode()  # the answer as the engine wrote it, as the SDK returns it

    async def send_ack(self, name: str, idem: str, block: int | str) -> asyncio.Future[Any]:
        """Send an ACK and return at once the future of its answer (for a handler that acks
        as records come without waiting for each answer)."""
        req = frames.Ack(self.client_id, check_idem(idem), check_block(block), check_name(name))
        try:
            text = req.encode()
        except frames.WireError as exc:
            raise EnSyncValidationError(str(exc)) from None
        return await self._transport.submit_text(req.VERB, text)

    async def rollback(self, idem: str, block: int | str) -> str:
        answer: replies.Pass = await self._call(
            frames.Rollback(self.client_id, check_idem(idem), check_block(block))
        )
        return answer.encode()

    async def pause(self, name: str, reason: str = "") -> dict[str, Any]:
        await self._call(frames.Pause(self.client_id, check_name(name), check_reason(reason)))
        sub = self._subs.get(name)
        if sub is not None:
            sub.paused, sub.pause_reason = True, reason or ""
        return {
            "status": "success",
            "action": "paused",
            "messageName": name,
            "reason": reason or None,
        }

    async def resume(self, name: str) -> dict[str, Any]:
        await self._call(frames.Continue(self.client_id, check_name(name)))
        sub = self._subs.get(name)
        if sub is not None:
            sub.paused = False
        return {"status": "success", "action": "continued", "messageName": name}

    async def defer(self, name: str, idem: str, delay_ms: int, reason: str = "") -> dict[str, Any]:
        req = frames.Defer(
            self.client_id,
            check_idem(idem),
            check_name(name),
            check_delay(delay_ms),
            check_reason(reason),
        )
        await self._call(req)
        return {"status": "success", "action": "deferred", "messageIdem": idem, "delayMs": delay_ms}

    async def discard(self, name: str, idem: str, reason: str = "") -> dict[str, Any]:
        req = frames.Discard(
            self.client_id, check_idem(idem), check_name(name), check_reason(reason)
        )
        await self._call(req)
        return {"status": "success", "action": "discarded", "messageIdem": idem}

    async def replay(
        self, name: str, idem: str, *, secret_key: str | None = None, decrypt: bool = True
    ) -> dict[str, Any]:
        """The stored message ``idem`` (any state), decrypted like a delivery."""
        req = frames.Replay(self.client_id, check_idem(idem), check_name(name))
        answer = await self._call(req)
        if not isinstance(answer, replies.ReplayReply):  # pragma: no cover - outcome() checks
            raise EnSyncReplayError("unexpected answer to REPLAY")
        return to_message(answer.record, secret_key or self._secret, decrypt, self._opener)

    async def unsubscribe(self, name: str) -> None:
        await self._call(frames.Unsub(self.client_id, check_name(name)))
        if self._transport.conn.subscriptions.get(name) is self._subs.get(name):
            self._transport.conn.forget(name)
        sub = self._subs.pop(name, None)
        if sub is not None:
            sub._stop()
