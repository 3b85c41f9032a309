"""Publishing: a message shaped, sealed and framed (through protocol/), then sent
pipelined, one PUB per recipient; and :class:`Draft`, a message as a person types it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ensync_tui.client.checks import check_name, check_recipient
from ensync_tui.client.errors import EnSyncError, EnSyncPublishError, EnSyncValidationError
from ensync_tui.client.sealing import Sealer
from ensync_tui.protocol import crypto, frames, replies
from ensync_tui.protocol.limits import INT64_DIGITS, MAX_PAYLOAD, name_problem
from ensync_tui.protocol.schema import field_problems

if TYPE_CHECKING:
    from ensync_tui.client.transport import Transport

__all__ = [
    "DEFAULT_METADATA",
    "Draft",
    "DraftError",
    "Message",
    "payload_meta_json",
    "pub_frames",
    "pub_result",
    "sealed_size",
    "send_pubs",
    "split_recipients",
]

DEFAULT_METADATA: Mapping[str, Any] = {"persist": True, "headers": {}}
to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DEFAULT_META = to_json(dict(DEFAULT_METADATA))


_PM_CACHE: dict[tuple[Any, ...], str] = {}
_PM_CACHE_SIZE = 1024  # texts remembered, for payloads of at most _PM_FIELDS fields
_PM_FIELDS = 32


def payload_meta_json(size: int, skeleton: dict[str, str]) -> str:
    """The ``PAYLOAD_METADATA`` text; a publisher sends the same few shapes over and
    over, so each (size, skeleton) is encoded once."""
    if len(skeleton) > _PM_FIELDS:
        return to_json({"byte_size": size, "skeleton": skeleton})
    key = (size, *skeleton.items())
    text = _PM_CACHE.get(key)
    if text is None:
        text = to_json({"byte_size": size, "skeleton": skeleton})
        if len(_PM_CACHE) >= _PM_CACHE_SIZE:
            _PM_CACHE.clear()
        _PM_CACHE[key] = text
    return text


def pub_frames(
    client_id: str,
    name: Any,
    recipients: Any,
    payload: Any,
    metadata: Mapping[str, Any] | None,
    options: Mapping[str, Any] | None,
    sealer: Sealer,
) -> list[str]:
    """The PUB frames of one publish, one per recipient; EnSyncValidationError says
    what is wrong before anything is sent."""
    check_name(name)
    if not isinstance(recipients, list) or not recipients:
        raise EnSyncValidationError("recipients must be a non-empty list of public keys")
    for key in recipients:
        check_recipient(key)
    if payload is None:
        raise EnSyncValidationError("payload cannot be None")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise EnSyncValidationError("metadata must be a dict")
    if options is not None and not isinstance(options, Mapping):
        raise EnSyncValidationError("options must be a dict")
    try:
        plaintext = to_json(payload).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise EnSyncValidationError(f"payload is not JSON-serialisable: {exc}") from None
    payload_meta = payload_meta_json(len(plaintext), crypto.payload_skeleton(payload))
    if metadata:
        meta = {**DEFAULT_METADATA, **metadata}
        try:
            meta_json = to_json(meta)
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
            envelopes = [sealer.seal(plaintext, r) for r in recipients]
        deliveries = list(zip(recipients, envelopes, strict=True))
        return frames.encode_pubs(client_id, name, deliveries, meta_json, payload_meta)
    except (crypto.InvalidKeyError, frames.WireError) as exc:
        raise EnSyncValidationError(str(exc)) from None


async def send_pubs(
    transport: Transport, recipients: list[str], texts: list[str]
) -> list[dict[str, Any]]:
    """Send the PUB frames pipelined; the engine's answer for each recipient.

    EnSyncPublishError (with ``results``, per recipient its answer or its error)
    when one is refused; the deliveries the engine took before are in it too.
    """
    submit = transport.submit_text
    if len(texts) == 1:  # the common case, kept short
        try:
            answer = await (await submit("PUB", texts[0]))
        except EnSyncPublishError as exc:
            raise EnSyncPublishError(
                exc.message, results=[{"recipient": recipients[0], "error": exc}]
            ) from None
        return [pub_result(recipients[0], answer.body)]
    futures: list[asyncio.Future[Any]] = []
    error: BaseException | None = None
    try:
        for text in texts:
            try:
                futures.append(await submit("PUB", text))
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
            results.append(pub_result(recipient, answer.body))
    if error is not None:
        if isinstance(error, EnSyncPublishError) or not isinstance(error, EnSyncError):
            raise EnSyncPublishError(str(getattr(error, "message", error)), results=results)
        raise error
    return results


def pub_result(recipient: str, body: str) -> dict[str, Any]:
    """A publish result from the ``+PASS:`` body, ``{idem=..,block=..}`` when the engine says."""
    fields = replies.parse_kv(body)
    idem, block = fields.get("idem"), fields.get("block")
    value: Any = block
    if block and block.isascii() and block.isdigit() and len(block) <= INT64_DIGITS:
        value = int(block)
    response = "+PASS:" + body  # the answer as the engine wrote it
    return {"recipient": recipient, "idem": idem, "block": value, "response": response}


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


# ---------------------------------------------------------------- the draft

Problem = tuple[str, str]  # (field, what is wrong): "name", "recipients", "payload", "headers"
_SEPARATORS = re.compile(r"[\s,]+")
_BOX_MAC = 16  # bytes crypto_box adds


def split_recipients(text: str) -> list[str]:
    """Recipients as typed, separated by spaces, commas or new lines; repeats dropped."""
    tokens: list[str] = []
    for token in _SEPARATORS.split(text):
        if token and token not in tokens:
            tokens.append(token)
    return tokens


def _b64_len(size: int) -> int:
    return 4 * ((size + 2) // 3)


def sealed_size(plain_size: int, keys: list[str], hybrid: bool) -> int:
    """Bytes of the encrypted payload the engine gets for ``plain_size`` bytes of JSON.

    The envelope around the ciphertext has a fixed size for given recipients: it is
    measured once on an empty object, so nothing big is encrypted twice.
    """
    probe_keys = keys if hybrid else keys[:1]  # without hybrid, each recipient gets a box
    probe = crypto.encrypt_payload({}, probe_keys, hybrid or None)
    around = len(base64.b64decode(probe)) - _b64_len(2 + _BOX_MAC)
    return _b64_len(around + _b64_len(plain_size + _BOX_MAC))


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


@dataclass(frozen=True, slots=True)
class Message:
    """A draft that passed validation: what ``EnSyncClient.publish`` takes."""

    name: str
    recipients: list[str]
    payload: Any
    metadata: dict[str, Any]
    hybrid: bool

    async def publish(self, client: Any) -> list[dict[str, Any]]:
        options = {"useHybridEncryption": self.hybrid}
        result: list[dict[str, Any]] = await client.publish(
            self.name, self.recipients, self.payload, self.metadata, options
        )
        return result


class DraftError(EnSyncValidationError):
    """A draft with problems; ``problems`` lists each as (field, what is wrong)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))
        self.problems = problems


@dataclass(slots=True)
class Draft:
    """A message as a person types it: in the explorer's composer or as the arguments
    of ``ensync-tui publish``, so that both take the same input.

    ``recipients`` holds public keys, contact names (any case) and ``self``,
    separated by spaces, commas or new lines; ``payload`` is JSON text (an object);
    ``headers`` is ``key=value`` per line, or one JSON object. ``hybrid`` None
    means one hybrid envelope when there are several recipients.
    """

    name: str = ""
    recipients: str = ""
    payload: str = ""
    headers: str = ""
    persist: bool = True
    hybrid: bool | None = None
    contacts: Mapping[str, str] = field(default_factory=dict)
    self_key: str = ""  # this client's public key, for "self"
    schema: Mapping[str, str] | None = None  # the name's registered schema, when known

    # ---- each field on its own (the composer shows them as they are typed)

    def name_problems(self) -> list[Problem]:
        name = self.name.strip()
        if not name:
            return [("name", "a message name is required")]
        problem = name_problem(name)
        return [("name", problem)] if problem else []

    def resolve(self) -> tuple[list[tuple[str, str]], list[Problem]]:
        """(label, public key) per recipient, in order and without repeats, and the
        problems: each unknown name on its own, with the names known."""
        folded = {name.casefold(): (name, key) for name, key in self.contacts.items()}
        resolved: list[tuple[str, str]] = []
        problems: list[Problem] = []
        for token in split_recipients(self.recipients):
            if token.casefold() == "self" and self.self_key:
                label, key = "self", self.self_key
            elif token in self.contacts:
                label, key = token, self.contacts[token]
            elif token.casefold() in folded:
                label, key = folded[token.casefold()]
            elif crypto.public_key_problem(token) is None:
                label, key = "", token
            elif len(token) >= 40:  # meant as a key
                shown = crypto.short_key(token, 12)
                problems.append(("recipients", f"{shown!r} {crypto.public_key_problem(token)}"))
                continue
            else:
                problems.append(("recipients", f"{token!r} is {self._unknown()}"))
                continue
            if all(key != seen for _, seen in resolved):
                resolved.append((label, key))
        if not resolved and not problems:
            problems.append(("recipients", "add at least one recipient"))
        return resolved, problems

    def _unknown(self, limit: int = 8) -> str:
        names = sorted(n for n in self.contacts if not (self.self_key and n.casefold() == "self"))
        if self.self_key:
            names.insert(0, "self")
        if not names:
            return "neither a public key nor a contact (no contacts)"
        more = f", … {len(names) - limit} more" if len(names) > limit else ""
        return f"neither a public key nor a contact (known: {', '.join(names[:limit])}{more})"

    def parse_payload(self) -> tuple[Any, list[Problem]]:
        """The payload's JSON object, or the problem with the line and column of a mistake."""
        text = self.payload
        if not text.strip():
            return None, [("payload", "the payload is empty")]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            return None, [("payload", f"not valid JSON: {where}: {exc.msg}")]
        except (ValueError, RecursionError) as exc:
            what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            return None, [("payload", f"not valid JSON: {what}")]
        if not isinstance(value, dict):
            return None, [("payload", "the payload must be a JSON object")]
        return value, []

    def parse_headers(self) -> tuple[dict[str, Any], list[Problem]]:
        text = self.headers
        if not text.strip():
            return {}, []
        if text.strip().startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                where = f"line {exc.lineno}, column {exc.colno}"
                return {}, [("headers", f"not valid JSON: {where}: {exc.msg}")]
            except (ValueError, RecursionError):
                return {}, [("headers", "not valid JSON")]
            if isinstance(value, dict):
                return value, []
            return {}, [("headers", "headers JSON must be an object")]
        headers: dict[str, Any] = {}
        problems: list[Problem] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                problems.append(("headers", f"line {number}: expected key=value, got {line!r}"))
            else:
                headers[key.strip()] = value.strip()
        return headers, problems

    def schema_problems(self, payload: Any) -> list[Problem]:
        """Each field of the payload that does not match the name's schema, if known."""
        if not self.schema:
            return []
        whose = f"the schema of {self.name.strip()}"
        return [
            ("payload", f"field {name!r}: {what} ({whose})" if name else what)
            for name, what in field_problems(self.schema, payload).items()
        ]

    def use_hybrid(self, keys: list[str]) -> bool:
        return len(keys) > 1 if self.hybrid is None else self.hybrid

    def size_problems(self, payload: Any, keys: list[str]) -> list[Problem]:
        """The payload once encrypted (and base64) against the engine's limit."""
        plain = len(to_json(payload).encode())
        if plain < MAX_PAYLOAD // 2 or not keys:
            return []  # encryption and base64 grow a payload less than twofold
        size = sealed_size(plain, keys, self.use_hybrid(keys))
        if size <= MAX_PAYLOAD:
            return []
        limit = _mib(MAX_PAYLOAD)
        return [("payload", f"{_mib(size)} once encrypted, over the {limit} the engine takes")]

    # ---- the whole draft

    def validate(self) -> list[Problem]:
        """Every problem at once, as (field, what is wrong); [] when it can be sent."""
        return self._check()[1]

    def message(self) -> Message:
        """The message to publish; DraftError (with every problem) when there are any."""
        message, problems = self._check()
        if message is None:
            raise DraftError(problems)
        return message

    def _check(self) -> tuple[Message | None, list[Problem]]:
        problems = self.name_problems()
        resolved, more = self.resolve()
        problems += more
        payload, more = self.parse_payload()
        problems += more
        headers, more = self.parse_headers()
        problems += more
        keys = [key for _, key in resolved]
        if payload is not None:
            problems += self.schema_problems(payload)
            problems += self.size_problems(payload, keys)
        if problems:
            return None, problems
        metadata = {"persist": self.persist, "headers": headers}
        hybrid = self.use_hybrid(keys)
        return Message(self.name.strip(), keys, payload, metadata, hybrid), []
