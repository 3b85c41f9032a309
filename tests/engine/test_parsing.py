"""Request parsing under generated input: hypothesis properties of what the engine reads."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ensync_tui.engine import fastparse
from ensync_tui.engine.broker import Broker
from ensync_tui.engine.outbox import Outbox
from ensync_tui.engine.sandbox import make_identities, sandbox_config
from ensync_tui.engine.session import Session
from ensync_tui.engine.store import Store
from ensync_tui.protocol import frames

IDS = make_identities(["alice", "bob"])
ALICE, BOB = IDS["alice"], IDS["bob"]

# JSON values a strict reader takes: finite numbers, text without lone surrogates
strict_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
strict_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | strict_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strict_text, inner, max_size=4),
    max_leaves=20,
)
# what one of them may hide: a constant, an overflow, a lone surrogate
poison = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-2E+999",
        '"\\ud800"',
        '"\\udfff x"',
        '{"\\udbff":1}',
    ]
)


def _pub(metadata: str, pm: str | None = None) -> str:
    frame = (
        f"PUB;CLIENT_ID=:c;EVENT_NAME=:n;PAYLOAD=:e30=;DELIVERY_TO=:{BOB.public_key}"
        f";METADATA=:{metadata}"
    )
    return frame if pm is None else frame + ";PAYLOAD_METADATA=:" + pm


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(strict_text, strict_json, max_size=5))
def test_strict_json_objects_parse_to_what_they_say(value: dict[str, Any]) -> None:
    text = json.dumps(value, ensure_ascii=bool(len(value) % 2))
    request = fastparse.parse_request(_pub(text))
    assert isinstance(request, frames.Pub)
    assert request.metadata == json.loads(text)
    assert frames.parse_request(_pub(text)) == request


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(strict_text, strict_json, max_size=3), poison, st.booleans())
def test_non_standard_json_anywhere_is_refused(
    value: dict[str, Any], bad: str, in_pm: bool
) -> None:
    text = json.dumps(value)
    spoiled = text[:-1] + ("," if value else "") + f'"p":{bad}}}'
    frame = _pub("{}", spoiled) if in_pm else _pub(spoiled)
    for parse in (fastparse.parse_request, frames.parse_request):
        try:
            parse(frame)
        except frames.WireError as exc:
            assert "not valid JSON" in str(exc)
        else:
            raise AssertionError(f"accepted {spoiled!r}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_an_unknown_verb_is_shown_only_when_it_looks_like_one(verb: str) -> None:
    shown = frames.shown_verb(verb)
    if shown.startswith("'"):
        assert verb.isascii() and verb.replace("_", "").isalpha() and verb.isupper()
        assert len(verb) <= 16
    else:
        assert shown.startswith("(") and shown.endswith(", not shown)")
        assert len(verb) < 3 or verb not in shown


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.builds(
                lambda verb, parts: verb + "".join(parts),
                st.sampled_from([v + ";" for v in frames.REQUEST_TYPES] + ["CONN;ACCESS_KEY=:"]),
                st.lists(
                    st.sampled_from(
                        [
                            "CLIENT_ID=:",
                            ";EVENT_NAME=:orders/created",
                            ";PAYLOAD=:e30=",
                            f";DELIVERY_TO=:{BOB.public_key}",
                            ";METADATA=:{}",
                            ";METADATA=:{NaN}",
                            ';PAYLOAD_METADATA={"byte_size":1e999}',
                            ";EVENT_IDEM=:x",
                            ";BLOCK=:1",
                            ";DELAY=:1000",
                            ";REASON=:\x1b]52;",
                            ALICE.access_key,
                        ]
                    ),
                    max_size=7,
                ),
            ),
        ),
        max_size=12,
    )
)
def test_a_session_answers_any_frames_without_raising(texts: list[str]) -> None:
    async def run() -> None:
        store = Store()
        broker = Broker(sandbox_config(IDS, ["orders/created"]), store)
        outbox = Outbox()
        session = Session(broker, outbox, "peer")
        session.handle(frames.Conn(ALICE.access_key).encode())
        for frame in texts:
            reply = session.handle(frame)
            if reply is not None:
                outbox.push(reply)
        await broker.writer.flush()
        while len(outbox):
            for sent in await outbox.get():
                assert sent == "PING" or sent.startswith(
                    ("+PASS:", "-FAIL:", "+REPLAY:", "+RECORD:")
                )
                assert ALICE.access_key not in sent or sent.startswith("+REPLAY:")
        session.close()
        await broker.stop()
        store.close()

    asyncio.run(run())


def test_finite_floats_survive_and_their_bounds_hold() -> None:
    frame = _pub('{"big":1.7976931348623157e308,"small":5e-324,"int":' + "9" * 300 + "}")
    request = fastparse.parse_request(frame)
    assert isinstance(request, frames.Pub)
    assert math.isfinite(request.metadata["big"]) and request.metadata["int"] == int("9" * 300)
