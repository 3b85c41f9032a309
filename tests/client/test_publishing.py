"""The PAYLOAD_METADATA text of a publish, encoded once per shape."""

from __future__ import annotations

import json

from ensync_tui.client import publishing
from ensync_tui.client.publishing import payload_meta_json, pub_frames
from ensync_tui.client.sealing import Sealer
from ensync_tui.engine.sandbox import make_identities
from ensync_tui.protocol import crypto


def _plain(size: int, skeleton: dict[str, str]) -> str:
    return json.dumps(
        {"byte_size": size, "skeleton": skeleton}, separators=(",", ":"), ensure_ascii=False
    )


def test_the_text_is_the_same_cached_or_not() -> None:
    shapes = [
        (700, {"order": "string", "data": "string"}),
        (700, {"data": "string", "order": "string"}),  # same fields, other order
        (701, {"order": "string", "data": "string"}),
        (12, {}),
        (30, {"é\u2028": "integer", "n": "null"}),
    ]
    for _ in range(2):  # the second time from the cache
        for size, skeleton in shapes:
            assert payload_meta_json(size, skeleton) == _plain(size, skeleton)


def test_the_cache_stays_bounded_and_wide_payloads_are_not_kept() -> None:
    for i in range(publishing._PM_CACHE_SIZE * 3):
        assert payload_meta_json(i, {"k": "string"}) == _plain(i, {"k": "string"})
    assert len(publishing._PM_CACHE) <= publishing._PM_CACHE_SIZE
    publishing._PM_CACHE.clear()
    wide = {f"f{i}": "string" for i in range(publishing._PM_FIELDS + 1)}
    assert payload_meta_json(5, wide) == _plain(5, wide)
    assert not publishing._PM_CACHE


def test_a_pub_frame_carries_its_payloads_own_metadata() -> None:
    key = make_identities(["r"])["r"].public_key
    sealer = Sealer()
    for payload in ({"a": 1, "b": "x"}, {"a": "one", "b": "x"}, [1, 2], "text"):
        (frame,) = pub_frames("cid", "orders/new", [key], payload, None, None, sealer)
        pm = json.loads(frame.rsplit(";PAYLOAD_METADATA=:", 1)[1])
        assert pm == crypto.payload_metadata(payload)
