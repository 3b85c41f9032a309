"""The public API, shaped like the official SDK's: EnSyncEngine, EnSyncClient, Subscription.

    engine = EnSyncEngine("ws://localhost:8082")
    client = await engine.create_client(access_key, {"appSecretKey": secret})
    await client.publish("orders/status", [public_key], {"order_id": "1"})
    sub = client.subscribe("orders/status")

    @sub.handler
    async def handle(message): ...

Each subscription has its own worker task: records are handled in order per
subscription, away from the socket reader, so a slow handler never delays
answers to requests. Auto-ack is sent once every handler returned without
raising.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from types import TracebackType
from typing import Any

from ensync_tui.client.errors import (
    EnSyncConnectionError,
    EnSyncError,
    EnSyncPublishError,
    EnSyncReplayError,
    EnSyncSubscriptionError,
    EnSyncValidationError,
)
from ensync_tui.client.options import (
    DEFAULT_URL,
    Options,
    message_url,
    parse_options,
    ssl_context,
)
from ensync_tui.client.sealing import Opener, Sealer
from ensync_tui.client.session import ConnectionState, Session
from ensync_tui.protocol import crypto, frames, replies
from ensync_tui.protocol.limits import MAX_DEFER_MS, MIN_DEFER_MS

__all__ = ["EnSyncClient", "EnSyncEngine", "Subscription", "to_message"]

log = logging.getLogger("ensync_tui.client")

Handler = Callable[[dict[str, Any]], Any]


_OPENER = Opener()
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DEFAULT_META = _to_json({"persist": True, "headers": {}})


def to_message(
    record: replies.Record, secret_key: str | None, decrypt: bool = True, opener: Opener = _OPENER
) -> dict[str, Any]:
    """The handler's view of a record, decrypted when a key is given."""
    payload: Any = None
    error: str | None = None
    if decrypt:
        if secret_key:
            try:
                payload = opener.open(record.payload, secret_key)
            except crypto.DecryptError as exc:
                error = str(exc)
            except Exception as exc:  # whatever the payload holds, this message only
                error = f"cannot decrypt: {type(exc).__name__}"
        else:
            error = "no secret key to decrypt with"
    return {
        "messageName": record.name,
        "idem": record.idem,
        "block": record.block,
        "timestamp": record.logged_at,
        "payload": payload,
        "metadata": record.metadata,
        "sender": record.sender,
        "record": record,
        "decryptError": error,
    }


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise EnSyncValidationError("message name must be a non-empty string")
    return name


def _check_idem(idem: Any) -> str:
    if isinstance(idem, int) and not isinstance(idem, bool):
        idem = str(idem)
    if not isinstance(idem, str) or not idem:
        raise EnSyncValidationError("message idem must be a non-empty string")
    return idem


def _check_block(block: Any) -> str:
    text = str(block) if isinstance(block, int) and not isinstance(block, bool) else block
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise EnSyncValidationError(f"block must be a whole number, got {block!r}")
    return text


def _check_reason(reason: Any) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise EnSyncValidationError("reason must be a string")
    return reason


def _check_recipient(key: Any) -> str:
    problem = crypto.public_key_problem(key)  # cached per key
    if problem is not None:
        shown = crypto.short_key(key) if isinstance(key, str) else repr(key)
        raise EnSyncValidationError(f"recipient {shown} {problem}")
    return key


def _check_secret(key: Any) -> str | None:
    if key is None or key == "":
        return None
    if not isinstance(key, str):
        raise EnSyncValidationError("appSecretKey must be base64 text")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise EnSyncValidationError("appSecretKey is not valid base64") from None
    if len(raw) not in (32, 64):
        raise EnSyncValidationError(f"appSecretKey must be 64 (or 32) bytes, got {len(raw)}")
    return key


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
    ) -> EnSyncClient:
        """Connect and authenticate; raises EnSyncAuthError or EnSyncConnectionError."""
        if not isinstance(access_key, str) or not access_key:
            raise EnSyncValidationError("access key must be a non-empty string")
        opts = dict(options or {})
        secret = app_secret_key or opts.get("appSecretKey") or opts.get("app_secret_key")
        client = EnSyncClient(self.url, access_key, self.options, _check_secret(secret))
        await client._session.open()
        return client


class EnSyncClient:
    """An authenticated connection: publish, subscribe and control delivery."""

    def __init__(
        self, url: str, access_key: str, options: Options, app_secret_key: str | None
    ) -> None:
        self.url = url
        self._secret = app_secret_key
        self._subs: dict[str, Subscription] = {}
        self._sealer = Sealer(ttl=options.key_reuse)
        self._opener = Opener()
        self._session = Session(
            url, access_key, options, on_record=self._on_record, on_ready=self._resubscribe
        )

    def __repr__(self) -> str:
        return f"<EnSyncClient {self.url} {self.state.status} id={self.client_id!r}>"

    # ------------------------------------------------------------ identity and state

    @property
    def client_id(self) -> str:
        return self._session.client_id

    def get_client_public_key(self) -> str:
        if self._session.client_hash:
            return self._session.client_hash
        return crypto.public_key_of(self._secret) if self._secret else ""

    @property
    def state(self) -> ConnectionState:
        return self._session.state

    def state_changes(self) -> AsyncIterator[ConnectionState]:
        return self._session.state_changes()

    async def ping(self) -> float:
        return await self._session.ping()

    async def close(self) -> None:
        await self._session.close()
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
        _check_name(name)
        if not isinstance(recipients, list) or not recipients:
            raise EnSyncValidationError("recipients must be a non-empty list of public keys")
        for key in recipients:
            _check_recipient(key)
        if payload is None:
            raise EnSyncValidationError("payload cannot be None")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise EnSyncValidationError("metadata must be a dict")
        if options is not None and not isinstance(options, Mapping):
            raise EnSyncValidationError("options must be a dict")
        try:
            plaintext = _to_json(payload).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            raise EnSyncValidationError(f"payload is not JSON-serialisable: {exc}") from None
        payload_meta = {"byte_size": len(plaintext), "skeleton": crypto.payload_skeleton(payload)}
        meta: dict[str, Any] = {"persist": True, "headers": {}}
        if metadata:
            meta.update(metadata)
            try:
                meta_json = _to_json(meta)
            except (TypeError, ValueError) as exc:
                raise EnSyncValidationError(f"metadata is not JSON-serialisable: {exc}") from None
        else:
            meta_json = _DEFAULT_META
        hybrid = bool((options or {}).get("useHybridEncryption", True)) and len(recipients) > 1
        try:
            if hybrid:
                shared = crypto.encrypt_payload(payload, recipients, hybrid=True)
                envelopes = [shared] * len(recipients)
            else:
                envelopes = [self._sealer.seal(plaintext, r) for r in recipients]
        except crypto.InvalidKeyError as exc:
            raise EnSyncValidationError(str(exc)) from None
        client_id = self.client_id
        # envelopes and keys are base64 and cannot hold ';': only these need a check
        if "=:" in name or "=:" in meta_json:
            try:
                frames.Pub(client_id, name, "", "", meta, payload_meta).encode()
            except frames.WireError as exc:
                raise EnSyncValidationError(str(exc)) from None
        head = f"PUB;CLIENT_ID=:{client_id};EVENT_NAME=:{name};PAYLOAD=:"
        tail = ";METADATA=:" + meta_json + ";PAYLOAD_METADATA=:" + _to_json(payload_meta)
        texts = [
            head + envelope + ";DELIVERY_TO=:" + recipient + tail
            for recipient, envelope in zip(recipients, envelopes, strict=True)
        ]
        return await self._send_pubs(recipients, texts)

    async def _send_pubs(self, recipients: list[str], frames: list[str]) -> list[dict[str, Any]]:
        submit = self._session.submit_text
        if len(frames) == 1:  # the common case, kept short
            try:
                future = self._session.try_submit("PUB", frames[0])
                if future is None:
                    future = await submit("PUB", frames[0])
                answer = await future
            except EnSyncPublishError as exc:
                raise EnSyncPublishError(
                    exc.message, results=[{"recipient": recipients[0], "error": exc}]
                ) from None
            return [_pub_result(recipients[0], answer.body)]
        futures: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        try:
            for frame in frames:
                try:
                    futures.append(await submit("PUB", frame))
                except EnSyncError as exc:
                    error = exc
                    break
        except BaseException:  # cancelled mid-way: nobody will read the answers sent so far
            for future in futures:
                future.add_done_callback(_consume)
            raise
        answers = await asyncio.gather(*futures, return_exceptions=True)
        results: list[dict[str, Any]] = []
        for recipient, answer in zip(recipients, answers, strict=False):
            if isinstance(answer, BaseException):
                error = error or answer
                results.append({"recipient": recipient, "error": answer})
            else:
                results.append(_pub_result(recipient, answer.body))
        if error is not None:
            if isinstance(error, EnSyncPublishError) or not isinstance(error, EnSyncError):
                raise EnSyncPublishError(str(getattr(error, "message", error)), results=results)
            raise error
        return results

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
        _check_name(name)
        if "autoAck" in options:
            auto_ack = bool(options.pop("autoAck"))
        if "appSecretKey" in options:
            app_decrypt_key = options.pop("appSecretKey")
        if options:
            raise EnSyncValidationError(f"unknown subscribe option(s): {', '.join(options)}")
        if self._session.closed:
            raise EnSyncConnectionError("the client is closed")
        existing = self._subs.get(name)
        if existing is not None:
            return existing
        sub = Subscription(self, name, auto_ack, _check_secret(app_decrypt_key), decrypt)
        self._subs[name] = sub
        return sub

    def _on_record(self, record: replies.Record) -> None:
        sub = self._subs.get(record.name)
        if sub is None:
            log.debug("record for %s with no subscription left unacknowledged", record.name)
            return
        sub._deliver(record)

    async def _resubscribe(self) -> None:
        """After a reconnect: SUB every subscription again, PAUSE the paused ones."""
        for sub in list(self._subs.values()):
            if not sub._wanted:
                continue
            try:
                await self._call(frames.Sub(self.client_id, sub.name), ready=False)
                sub._confirmed = True
                if sub.paused:
                    pause = frames.Pause(self.client_id, sub.name, sub.pause_reason)
                    await self._call(pause, ready=False)
            except EnSyncConnectionError:
                raise
            except EnSyncError as exc:
                log.warning("resubscribing to %s failed: %s", sub.name, exc)

    async def _call(self, req: frames.Request, *, ready: bool = True) -> Any:
        return await (await self._session.submit(req, ready=ready))

    # ------------------------------------------------------------ delivery control by name

    async def ack(self, name: str, idem: str, block: int | str) -> str:
        req = frames.Ack(self.client_id, _check_idem(idem), _check_block(block), _check_name(name))
        answer = await self._call(req)
        return "+PASS:" + answer.body

    async def rollback(self, idem: str, block: int | str) -> str:
        answer = await self._call(
            frames.Rollback(self.client_id, _check_idem(idem), _check_block(block))
        )
        return "+PASS:" + answer.body

    async def pause(self, name: str, reason: str = "") -> dict[str, Any]:
        await self._call(frames.Pause(self.client_id, _check_name(name), _check_reason(reason)))
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
        await self._call(frames.Continue(self.client_id, _check_name(name)))
        sub = self._subs.get(name)
        if sub is not None:
            sub.paused = False
        return {"status": "success", "action": "continued", "messageName": name}

    async def defer(self, name: str, idem: str, delay_ms: int, reason: str = "") -> dict[str, Any]:
        if (
            isinstance(delay_ms, bool)
            or not isinstance(delay_ms, int)
            or not MIN_DEFER_MS <= delay_ms <= MAX_DEFER_MS
        ):
            raise EnSyncValidationError(
                f"defer delay must be {MIN_DEFER_MS}..{MAX_DEFER_MS} ms, got {delay_ms!r}"
            )
        req = frames.Defer(
            self.client_id, _check_idem(idem), _check_name(name), delay_ms, _check_reason(reason)
        )
        await self._call(req)
        return {"status": "success", "action": "deferred", "messageIdem": idem, "delayMs": delay_ms}

    async def discard(self, name: str, idem: str, reason: str = "") -> dict[str, Any]:
        req = frames.Discard(
            self.client_id, _check_idem(idem), _check_name(name), _check_reason(reason)
        )
        await self._call(req)
        return {"status": "success", "action": "discarded", "messageIdem": idem}

    async def replay(
        self, name: str, idem: str, *, secret_key: str | None = None, decrypt: bool = True
    ) -> dict[str, Any]:
        """The stored message ``idem`` (any state), decrypted like a delivery."""
        req = frames.Replay(self.client_id, _check_idem(idem), _check_name(name))
        answer = await self._call(req)
        if not isinstance(answer, replies.ReplayReply):  # pragma: no cover - outcome() checks
            raise EnSyncReplayError("unexpected answer to REPLAY")
        return to_message(answer.record, secret_key or self._secret, decrypt, self._opener)

    async def unsubscribe(self, name: str) -> None:
        await self._call(frames.Unsub(self.client_id, _check_name(name)))
        sub = self._subs.pop(name, None)
        if sub is not None:
            sub._stop()


class Subscription:
    """One message name this client receives; handlers run in order, one record at a time."""

    def __init__(
        self,
        client: EnSyncClient,
        name: str,
        auto_ack: bool,
        secret_key: str | None,
        decrypt: bool,
    ) -> None:
        self.name = name
        self.auto_ack = auto_ack
        self.decrypt = decrypt
        self.paused = False
        self.pause_reason = ""
        self._client = client
        self._secret = secret_key
        self._handlers: list[Handler] = []
        self._inbox: deque[replies.Record] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._sub_task: asyncio.Task[Subscription] | None = None
        self._wanted = False  # resubscribe after a reconnect
        self._confirmed = False
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Subscription {self.name} handlers={len(self._handlers)} paused={self.paused}>"

    # ------------------------------------------------------------ SUB

    def __await__(self) -> Generator[Any, None, Subscription]:
        return self._ensure().__await__()

    async def _ensure(self) -> Subscription:
        task = self._sub_task
        if self._confirmed and task is not None and task.done():
            return self
        if task is None or (self._lost(task) and not self._stopped):
            self._start_sub()  # first time, or again after a connection error
            task = self._sub_task
        assert task is not None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                raise EnSyncConnectionError("the client is closed") from None
            raise

    def _lost(self, task: asyncio.Task[Subscription]) -> bool:
        """The SUB failed for want of a connection (the reconnect may have sent it since)."""
        if not task.done() or task.cancelled():
            return False
        return isinstance(task.exception(), EnSyncConnectionError) and not self._confirmed

    def _start_sub(self) -> None:
        self._sub_task = asyncio.get_running_loop().create_task(
            self._send_sub(), name=f"ensync-sub-{self.name}"
        )
        self._sub_task.add_done_callback(_log_sub_failure)

    async def _send_sub(self) -> Subscription:
        client = self._client
        self._wanted = True
        try:
            await client._call(frames.Sub(client.client_id, self.name))
        except EnSyncConnectionError:
            raise  # still wanted: the reconnect will SUB it
        except EnSyncError:
            self._wanted = False
            if client._subs.get(self.name) is self:
                del client._subs[self.name]
            self._stop()
            raise
        self._confirmed = True
        return self

    def handler(self, func: Handler) -> Handler:
        """Register a handler (async or plain) and make sure SUB is sent."""
        if not callable(func):
            raise EnSyncValidationError("a handler must be callable")
        self._handlers.append(func)
        if self._sub_task is None:
            self._start_sub()
        self._kick()
        return func

    on = handler

    def remove_handler(self, func: Handler) -> None:
        if func in self._handlers:
            self._handlers.remove(func)

    # ------------------------------------------------------------ delivery

    def _deliver(self, record: replies.Record) -> None:
        if self._stopped:
            return
        self._inbox.append(record)
        self._kick()

    def _kick(self) -> None:
        if self._stopped:
            return
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._run(), name=f"ensync-handler-{self.name}"
            )
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _run(self) -> None:
        client = self._client
        post = client._session.post
        opener = client._opener
        secret = self._secret or client._secret
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        while not self._stopped:
            if not inbox or not self._handlers:
                self._wake = loop.create_future()
                await self._wake
                continue
            record = inbox.popleft()
            message = to_message(record, secret, self.decrypt, opener)
            ok = True
            for func in tuple(self._handlers):
                try:
                    result = func(message)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception:
                    ok = False
                    log.exception("handler for %s failed on %s", self.name, record.idem)
            if ok and self.auto_ack and not self._stopped:
                frame = _ack_frame(client.client_id, record)
                if frame is not None:
                    post(frame, "ACK")

    def _stop(self) -> asyncio.Task[None] | None:
        """Stop handling; returns the worker to wait for (cancelled unless it is the caller)."""
        self._stopped = True
        self._inbox.clear()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not asyncio.current_task():
            worker.cancel()
        sub_task = self._sub_task
        if sub_task is not None and not sub_task.done() and sub_task is not asyncio.current_task():
            sub_task.cancel()
        return worker

    # ------------------------------------------------------------ control

    async def _settled(self) -> None:
        """Wait for a SUB in flight, so later requests follow it on the wire."""
        task = self._sub_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            await asyncio.wait([task])

    async def ack(self, idem: str, block: int | str) -> str:
        return await self._client.ack(self.name, idem, block)

    async def pause(self, reason: str = "") -> dict[str, Any]:
        await self._settled()
        result = await self._client.pause(self.name, reason)
        self.paused = True
        return result

    async def resume(self) -> dict[str, Any]:
        await self._settled()
        result = await self._client.resume(self.name)
        self.paused = False
        return result

    async def defer(self, idem: str, delay_ms: int = 1000, reason: str = "") -> dict[str, Any]:
        return await self._client.defer(self.name, idem, delay_ms, reason)

    async def discard(self, idem: str, reason: str = "") -> dict[str, Any]:
        return await self._client.discard(self.name, idem, reason)

    async def rollback(self, idem: str, block: int | str) -> str:
        return await self._client.rollback(idem, block)

    async def replay(self, idem: str) -> dict[str, Any]:
        return await self._client.replay(
            self.name, idem, secret_key=self._secret, decrypt=self.decrypt
        )

    async def unsubscribe(self) -> None:
        await self._settled()
        if self._client._subs.get(self.name) is not self:
            raise EnSyncSubscriptionError(f"not subscribed to {self.name}")
        await self._client.unsubscribe(self.name)


def _ack_frame(client_id: str, record: replies.Record) -> str | None:
    if "=:" in record.idem or "=:" in record.name:  # let the codec refuse what it must
        try:
            return frames.Ack(client_id, record.idem, str(record.block), record.name).encode()
        except frames.WireError as exc:
            log.warning("cannot acknowledge %s: %s", record.idem[:40], exc)
            return None
    return (
        f"ACK;CLIENT_ID=:{client_id};EVENT_IDEM=:{record.idem};BLOCK=:{record.block}"
        f";EVENT_NAME=:{record.name}"
    )


def _pub_result(recipient: str, body: str) -> dict[str, Any]:
    """A publish result from the ``+PASS:`` body, ``{idem=..,block=..}`` when the engine says."""
    idem: str | None = None
    block: Any = None
    if body.startswith("{idem=") and body.endswith("}"):  # the usual {idem=ID,block=N}
        first, _, second = body[1:-1].partition(",")
        if second.startswith("block=") and "," not in second and first.strip() == first:
            idem, block = first[5:], second[6:].strip()
    if idem is None and "=" in body:
        fields = replies.parse_kv(body)
        idem, block = fields.get("idem"), fields.get("block")
    if block and block.isascii() and block.isdigit() and len(block) <= 19:
        block = int(block)
    return {"recipient": recipient, "idem": idem, "block": block, "response": "+PASS:" + body}


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _log_sub_failure(task: asyncio.Task[Subscription]) -> None:
    if task.cancelled():
        return
    exc = task.exception()  # retrieved here so an unawaited failure is not lost
    if exc is not None:
        log.warning("subscribe failed: %s", exc)
