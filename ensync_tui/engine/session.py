"""One connection's view of the engine: its identity, its subscriptions, and
every verb it sends.

``Session.handle`` takes one client frame and returns its reply: a frame, a
future of a frame (when the reply waits for storage), or None (``PONG``, or
when the reply was already queued). Replies are sent in request order by the
caller; records go out through the session's sink.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Any

from ensync_tui.engine.broker import Broker
from ensync_tui.engine.config import ClientSpec, is_public_key
from ensync_tui.engine.delivery import Consumer, Sink
from ensync_tui.engine.fastparse import parse_request, split_ack, split_pub
from ensync_tui.engine.outbox import fail
from ensync_tui.engine.store import (
    ACKED,
    DEFERRED,
    DISCARDED,
    PENDING,
    StoredMessage,
    record_json,
)
from ensync_tui.engine.writer import Refused
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.crypto import short_key
from ensync_tui.protocol.limits import MAX_DEFER_MS, MIN_DEFER_MS
from ensync_tui.protocol.schema import matches
from ensync_tui.safetext import visible

log = logging.getLogger("ensync_tui.engine")

NOT_AUTHENTICATED = "not authenticated: send CONN with a valid access key first"
NOT_YOURS = "CLIENT_ID is not this connection's client (use the clientId CONN answered)"
_BEFORE_CONN = ("CONN;", "PONG")

Reply = str | asyncio.Future[Any] | None


def _shown(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width] + "…"


def schema_problem(schema: dict[str, str], payload_metadata: dict[str, Any]) -> str | None:
    """Why a PAYLOAD_METADATA skeleton does not match a schema, or None if it does."""
    skeleton = payload_metadata.get("skeleton")
    if not isinstance(skeleton, dict):
        return "PAYLOAD_METADATA has no skeleton object"
    for field, expected in schema.items():
        got = skeleton.get(field)
        if got is None:
            return f"schema mismatch: field {field!r} is missing"
        if not isinstance(got, str):
            return f"PAYLOAD_METADATA skeleton: the type of {field!r} must be a type name"
        if not matches(expected, got):  # the Node and Go SDKs write number for any
            return f"schema mismatch: field {field!r} expected {expected} got {got}"
    for field in skeleton:
        if field not in schema:
            return f"schema mismatch: unexpected field {field!r}"
    return None


class Session:
    """One connection: its identity, its subscriptions, and the verbs it sends."""

    def __init__(self, broker: Broker, sink: Sink, peer: str = "") -> None:
        self.broker = broker
        self.sink = sink
        self.peer = peer
        self.client: ClientSpec | None = None
        self.client_id = ""
        self.subs: dict[str, Consumer] = {}
        self.last_pong = time.monotonic()  # or when the connection opened
        self._handlers: dict[type[frames.Request], Callable[[Any], Reply]] = {
            frames.Pub: self._pub,
            frames.Sub: self._sub,
            frames.Unsub: self._unsub,
            frames.Ack: self._ack,
            frames.Rollback: self._rollback,
            frames.Defer: self._defer,
            frames.Discard: self._discard,
            frames.Pause: self._pause,
            frames.Continue: self._continue,
            frames.Replay: self._replay,
        }

    @property
    def who(self) -> str:
        if self.client:
            return f"{visible(self.client.name)} ({self.peer})"
        return self.peer or "client"

    def close(self) -> None:
        """The connection ended (or changed identity): drop its subscriptions."""
        for sub in list(self.subs.values()):
            sub.close()
        self.subs.clear()
        if self.client is not None:
            self.broker.detach(self.client)

    # ---------------------------------------------------------------- dispatch

    def handle(self, frame: str) -> Reply:
        if self.client is not None and frame.startswith(("PUB;", "ACK;")):
            if frame.startswith("PUB;"):
                fast = split_pub(frame)
                if fast is not None:
                    pub, meta_text = fast
                    if pub.client_id != self.client_id:
                        return self.refuse(NOT_YOURS)
                    return self._pub(pub, meta_text)
            else:
                ack = split_ack(frame)
                if ack is not None and ack.client_id == self.client_id:
                    return self._ack(ack)
        elif self.client is None and not frame.startswith(_BEFORE_CONN):
            return self.refuse(NOT_AUTHENTICATED)  # nothing is parsed (or kept) before CONN
        try:
            request = parse_request(frame)
        except frames.WireError as exc:
            return self.refuse(str(exc))
        if isinstance(request, frames.Pong):
            self.last_pong = time.monotonic()
            return None
        if isinstance(request, frames.Conn):
            return self._conn(request)
        if self.client is None:
            return self.refuse(NOT_AUTHENTICATED)
        client_id = request.client_id  # type: ignore[attr-defined]
        if client_id != self.client_id:
            return self.refuse(NOT_YOURS)
        return self._handlers[type(request)](request)

    def refuse(self, reason: str) -> str:
        """A -FAIL reply, logged (never with secrets; repeats are summarized)."""
        log.info("%s: -FAIL %s", self.who, visible(reason))
        return fail(reason)

    # ------------------------------------------------------------------ verbs

    def _conn(self, request: frames.Conn) -> Reply:
        spec = self.broker.by_access_key.get(request.access_key)
        if spec is None:
            return self.refuse("invalid access key")
        if self.client is not spec:
            if self.client is not None:
                self.close()
            self.broker.attach(spec)
        self.client = spec
        self.client_id = self.broker.client_ids[spec.public_key]
        log.info("%s: authenticated", self.who)
        body = replies.encode_kv({"clientId": self.client_id, "clientHash": spec.public_key})
        return "+PASS:" + body

    def _registered(self, name: str) -> str | None:
        if not name:
            return "EVENT_NAME is empty"
        if name not in self.broker.messages:
            return f"unknown message name {_shown(name)!r}"
        return None

    def _pub(self, r: frames.Pub, meta_text: str | None = None) -> Reply:
        client = self.client
        assert client is not None
        broker, name = self.broker, r.event_name
        spec = broker.messages.get(name)
        if spec is None:
            return self.refuse(self._registered(name) or "")
        if not broker.may(client, "send", name):
            return self.refuse(f"client {client.name!r} is not allowed to send {name!r}")
        recipient = broker.by_public_key.get(r.delivery_to)
        if recipient is None:
            if not is_public_key(r.delivery_to):
                return self.refuse(
                    f"DELIVERY_TO {_shown(r.delivery_to, 20)!r} is not a 32-byte base64 public key"
                )
            return self.refuse(f"unknown recipient {short_key(r.delivery_to)}")
        if not broker.may(recipient, "receive", name):
            return self.refuse(f"recipient {recipient.name!r} is not allowed to receive {name!r}")
        size, limit = len(r.payload), broker.cfg.max_payload
        if size == 0:
            return self.refuse("PAYLOAD is empty")
        if size > limit:
            return self.refuse(f"payload is {size} bytes, over the {limit}-byte limit")
        try:
            base64.b64decode(r.payload, validate=True)
        except (binascii.Error, ValueError):
            return self.refuse("PAYLOAD is not base64")
        pm = r.payload_metadata
        if pm is not None:
            byte_size = pm.get("byte_size")
            if byte_size is not None:
                if isinstance(byte_size, bool) or not isinstance(byte_size, int) or byte_size < 0:
                    return self.refuse("PAYLOAD_METADATA byte_size must be a whole number")
                if byte_size > limit:
                    return self.refuse(f"payload is {byte_size} bytes, over the {limit}-byte limit")
            if spec.schema is not None:
                problem = schema_problem(spec.schema, pm)
                if problem:
                    return self.refuse(problem)
        metadata = r.metadata
        if "redelivered" in metadata or "deliveryCount" in metadata:
            return self.refuse(
                "METADATA must not set redelivered or deliveryCount: "
                "the engine sets them when it delivers a record again"
            )
        text, persist = broker.stored_metadata(metadata, meta_text)
        m = broker.new_message(
            name, client.public_key, recipient.public_key, r.payload, text, persist
        )
        return broker.writer.insert(m, f"+PASS:{{idem={m.idem},block={m.block}}}")

    def _check_receive(self, name: str) -> str | None:
        assert self.client is not None
        problem = self._registered(name)
        if problem:
            return problem
        if not self.broker.may(self.client, "receive", name):
            return f"client {self.client.name!r} is not allowed to receive {name!r}"
        return None

    def _sub(self, r: frames.Sub) -> Reply:
        problem = self._check_receive(r.event_name)
        if problem:
            return self.refuse(problem)
        sub = self.subs.get(r.event_name)
        if sub is None:
            assert self.client is not None
            sub = self.broker.subscribe(self.sink, self.client, r.event_name, lambda: self.who)
            self.subs[r.event_name] = sub
            log.info("%s: subscribed to %s", self.who, visible(r.event_name))
        reply = "+PASS:" + replies.encode_kv({"subscribed": r.event_name})
        self.sink.push(reply)  # the reply goes before the backlog
        # the official SDKs add their handler once SUB is answered, and drop
        # what comes before: the first push waits a little
        sub.start(self.broker.cfg.sub_grace)
        return None

    def _unsub(self, r: frames.Unsub) -> Reply:
        sub = self.subs.pop(r.event_name, None)
        if sub is None:
            return self.refuse(f"not subscribed to {_shown(r.event_name)!r}")
        sub.close()
        return "+PASS:" + replies.encode_kv({"unsubscribed": r.event_name})

    def _pause(self, r: frames.Pause) -> Reply:
        problem = self._check_receive(r.event_name)
        if problem:
            return self.refuse(problem)
        assert self.client is not None
        self.broker.pause(self.client.public_key, r.event_name)
        return "+PASS:" + replies.encode_kv({"paused": r.event_name})

    def _continue(self, r: frames.Continue) -> Reply:
        problem = self._check_receive(r.event_name)
        if problem:
            return self.refuse(problem)
        assert self.client is not None
        reply = "+PASS:" + replies.encode_kv({"continued": r.event_name})
        self.sink.push(reply)  # the reply goes before what waited
        self.broker.resume(self.client.public_key, r.event_name)
        return None

    # ------------------------------------------------- per-message operations

    def _own(
        self, idem: str, name: str | None, block: str | None, brief: bool = False
    ) -> StoredMessage:
        """Inside the batch transaction: the message addressed to this client, checked."""
        assert self.client is not None
        if not idem:
            raise Refused("EVENT_IDEM is empty")
        m = self.broker.store.get(idem, brief=brief)
        if m is None or m.recipient != self.client.public_key:
            raise Refused(f"no message {_shown(idem)!r} for this client")
        if name and m.name != name:
            raise Refused(f"message {_shown(idem)!r} is {m.name!r}, not {_shown(name)!r}")
        if block is not None:
            text = block.strip()
            if not (text.isascii() and text.isdigit()) or len(text) > 18:
                raise Refused(f"BLOCK must be a whole number, got {_shown(block, 20)!r}")
            if int(text) != m.block:
                raise Refused(
                    f"BLOCK {int(text)} does not match message {idem!r} (block {m.block})"
                )
        return m

    def _op(self, op: Callable[[], Any], after: Callable[[Any], Any]) -> Reply:
        fut = self.broker.writer.submit(op, after)
        fut.add_done_callback(self._log_refusal)
        return fut

    def _log_refusal(self, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            log.info("%s: -FAIL %s", self.who, visible(str(fut.exception())))

    def _ack(self, r: frames.Ack) -> Reply:
        store = self.broker.store
        assert self.client is not None
        recipient = self.client.public_key
        digits = r.block.isascii() and r.block.isdigit() and len(r.block) <= 18
        block = int(r.block) if digits else None

        def op() -> tuple[int, str]:
            if block is not None and r.event_name:  # the usual case: one statement
                seq = store.ack(r.idem, recipient, r.event_name, block)
                if seq is not None:
                    return seq, r.event_name
            m = self._own(r.idem, r.event_name, r.block, brief=True)
            if m.state == DISCARDED:
                raise Refused(f"message {r.idem!r} was discarded")
            if m.state != ACKED:
                store.set_state(m.seq, ACKED)
            return m.seq, m.name

        def after(done: tuple[int, str]) -> str:
            self.broker.answered(recipient, done[1], done[0])
            return f"+PASS:{{acked={r.idem}}}"

        return self._op(op, after)

    def _rollback(self, r: frames.Rollback) -> Reply:
        store = self.broker.store

        def op() -> StoredMessage:
            m = self._own(r.idem, None, r.block)
            if m.state != PENDING:
                store.set_state(m.seq, PENDING)
            return m._replace(state=PENDING, due_at=None)

        def after(m: StoredMessage) -> str:
            self.broker.pending_again(m, delivered=True)
            return "+PASS:" + replies.encode_kv({"rolledBack": m.idem})

        return self._op(op, after)

    def _defer(self, r: frames.Defer) -> Reply:
        if not MIN_DEFER_MS <= r.delay_ms <= MAX_DEFER_MS:
            return self.refuse(
                f"DELAY must be 1000 ms to 24 h ({MAX_DEFER_MS} ms), got {r.delay_ms}"
            )
        store = self.broker.store

        def op() -> StoredMessage:
            m = self._own(r.idem, r.event_name, None)
            if m.state == ACKED:
                raise Refused(f"message {r.idem!r} is already acknowledged")
            if m.state == DISCARDED:
                raise Refused(f"message {r.idem!r} was discarded")
            due = self.broker.now_ms() + r.delay_ms
            store.set_state(m.seq, DEFERRED, due_at=due, reason=r.reason)
            return m._replace(state=DEFERRED, due_at=due)

        def after(m: StoredMessage) -> str:
            self.broker.answered(m.recipient, m.name, m.seq, keep_count=True)
            self.broker.wake_deferred()
            return "+PASS:" + replies.encode_kv({"deferred": m.idem, "dueAt": m.due_at})

        return self._op(op, after)

    def _discard(self, r: frames.Discard) -> Reply:
        store = self.broker.store

        def op() -> StoredMessage:
            m = self._own(r.idem, r.event_name, None)
            if m.state == ACKED:
                raise Refused(f"message {r.idem!r} is already acknowledged")
            if m.state != DISCARDED:
                store.set_state(m.seq, DISCARDED, reason=r.reason)
            return m

        def after(m: StoredMessage) -> str:
            self.broker.answered(m.recipient, m.name, m.seq)
            return "+PASS:" + replies.encode_kv({"discarded": m.idem})

        return self._op(op, after)

    def _replay(self, r: frames.Replay) -> Reply:
        client = self.client
        assert client is not None
        store = self.broker.store
        idem, name = r.idem, r.event_name

        def op() -> str:
            if not idem:
                raise Refused("EVENT_IDEM is empty")
            m = store.get(idem)
            if m is None or client.public_key not in (m.recipient, m.sender):
                raise Refused(f"no message {_shown(idem)!r} sent or received by this client")
            if name and m.name != name:
                raise Refused(f"message {_shown(idem)!r} is {m.name!r}, not {_shown(name)!r}")
            if not m.persist:
                raise Refused(f"message {idem!r} was published with persist=false")
            return "+REPLAY:" + record_json(m)

        fut = self.broker.writer.submit(op)
        fut.add_done_callback(self._log_refusal)
        # counted at the largest record until it is known: a peer that
        # pipelines replays and never reads them holds little
        self.sink.push(fut, self.broker.cfg.max_frame)
        return None
