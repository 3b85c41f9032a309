"""Running filters: each term and path operator, unknown payloads, and hostile values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ensync_tui.query import (
    PENDING,
    UNREADABLE,
    Access,
    compile_test,
    field_filter,
    needs_payload,
    parse,
)
from ensync_tui.query.paths import compile_path, path_to
from tests.hostile import QUERY_INJECTION


@dataclass
class Rec:
    name: str = "orders/created"
    idem: str = "0190-aaaa"
    sender: str = "PUBKEYALICE"
    payload: Any = None
    state: str = "pending"
    deliveries: int = 1
    metadata: dict[str, Any] = field(default_factory=lambda: {"persist": True, "headers": {}})


class RecAccess(Access):
    def state(self, record: Rec) -> str:
        return record.state

    def redelivered(self, record: Rec) -> bool:
        return record.deliveries > 1

    def value(self, record: Rec) -> Any:
        return record.payload


def run(text: str, record: Rec, **access: Any) -> bool | None:
    return compile_test(parse(text), RecAccess(**access))(record)


ORDER = {
    "status": "failed",
    "amount": 120.5,
    "count": 3,
    "ok": True,
    "gone": None,
    "lines": [{"sku": "X-1", "qty": 2}, {"sku": "Y-2", "qty": 5}],
    "a b": {"c": "spaced"},
    "note": "Connection RESET by peer",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('$.status == "failed"', True),
        ('$.status == "FAILED"', False),  # values compare exactly
        ('$.status != "ok"', True),
        ("$.amount > 100", True),
        ("$.amount > 120.5", False),
        ("$.amount >= 120.5", True),
        ("$.count == 3.0", True),  # JSON numbers: 3 is 3.0
        ("$.ok == true", True),
        ("$.ok == 1", False),  # true is not 1
        ("$.gone == null", True),
        ("$.missing == null", False),  # absent is not null
        ('$.status > "a"', True),  # strings order among themselves
        ("$.status > 1", False),  # never a string against a number
        ("$.ok < true", False),
        ('$.lines[*].sku == "X-1"', True),
        ('$.lines[*].sku == "Z-9"', False),
        ('$.lines[0].sku == "X-1"', True),
        ('$.lines[-1].sku == "Y-2"', True),
        ('$.lines[5].sku == "X-1"', False),
        ('$.lines[0,1].sku == "Y-2"', True),  # union of indexes
        ('$.lines[1:].sku == "Y-2"', True),  # slice (the library)
        ('$.lines[:1].sku == "Y-2"', False),
        ('$..sku == "Y-2"', True),  # descendants
        ('$.lines[?@.qty > 4].sku == "Y-2"', True),  # filter selector
        ('$.lines[?@.qty > 4].sku == "X-1"', False),
        ('$.lines[?match(@.sku, "X-.")].qty == 2', True),  # I-Regexp on RE2
        ('$.lines[?search(@.sku, "2")].qty == 5', True),
        ('$["a b"].c == "spaced"', True),
        ("$['a b'].c == 'spaced'", True),
        ("exists($.gone)", True),  # null is a value
        ("exists($.refund)", False),
        ("exists($.lines[?@.qty > 4])", True),
        ("not exists($.refund)", True),
        ('$.* == "failed"', True),  # wildcard on an object
    ],
)
def test_payload_conditions(text, expected):
    assert run(text, Rec(payload=ORDER)) is expected


def test_the_plain_walker_agrees_with_the_library():
    docs = [ORDER, [1, [2, 3], {"a": 4}], {"a": {"a": {"a": 1}}}, "text", 7, None, {}]
    paths = ["$.status", "$.lines[*].sku", "$[0]", "$[-1]", "$[*]", "$.*", "$['a b'].c"]
    paths += ["$.a.a.a", "$.a", "$[1][0]", "$[*][*]", "$.lines[0,1].qty", "$[0, 'a']"]
    paths += ["$..a", "$..sku", "$..[0]", "$..*", "$.lines..qty", "$..a..a", "$..['a','sku']"]
    for text in paths:
        path = compile_path(text)
        assert path.fast, text
        for doc in docs:
            ours = list(path.values(doc))
            theirs = [node.value for node in path.query.finditer(doc)]
            assert ours == theirs, (text, doc)
    assert not compile_path("$[?@.a]").fast and not compile_path("$[1:]").fast


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reset", True),  # payload text, any case
        ("RESET BY", True),
        ("orders/CREATED", True),  # name
        ("aaaa", True),  # idem
        ("pubkeyalice", True),  # sender
        ("nowhere", False),
        ("name:orders/*", True),
        ("name:orders", False),  # a glob matches the whole name
        ("name:ORDERS/c?eated", True),
        ("name:orders/[a-c]*", True),
        ("name:orders/[!c]*", False),
        ("idem:0190-*", True),
        ("sender:PUBKEY", True),  # key prefix
        ("sender:alice", True),  # contact name
        ("sender:ALICE", True),
        ("sender:bob", False),
        ("sender:self", True),
        ("header:trace=abc*", True),
        ("header:TRACE", True),
        ("header:trace=zzz", False),
        ("header:retries=3", True),  # a number header compares as its JSON
        ("header:missing", False),
        ("state:pending", True),
        ("state:acked", False),
        ("state:redelivered", True),
        ("state:undecryptable", False),
        (r"re:/conn\w+ reset/i", True),
        (r"re:/conn\w+ reset/", False),  # case counts without i
        (r"re:/^orders\//", True),
        ("re:/(a+)+$/", True),  # RE2: no backtracking, no hang
        ("name:orders/* and reset", True),
        ("name:orders/* and not reset", False),
        ("nowhere or state:pending", True),
        ("not (nowhere or state:acked)", True),
        ('(name:x/* or name:orders/*) and $.amount > 100 and $.lines[*].sku == "X-1"', True),
    ],
)
def test_terms(text, expected):
    record = Rec(
        payload=ORDER,
        deliveries=2,
        metadata={"headers": {"Trace": "abc123", "retries": 3}},
    )
    contacts = {"Alice": "PUBKEYALICE", "bob": "PUBKEYBOB"}
    assert run(text, record, contacts=contacts, self_key="PUBKEYALICE") is expected


def test_a_payload_not_opened_yet_is_unknown_until_it_is():
    record = Rec(payload=PENDING)
    assert run('$.status == "failed"', record) is None
    assert run("reset", record) is None
    assert run("state:undecryptable", record) is None
    # what the payload cannot change is decided without it
    assert run("name:other/* and reset", record) is False
    assert run("name:orders/* or reset", record) is True
    assert run("not reset", record) is None
    record.payload = ORDER
    assert run("reset", record) is True


def test_an_unreadable_payload_matches_no_payload_condition():
    record = Rec(payload=UNREADABLE)
    assert run("state:undecryptable", record) is True
    assert run('$.status == "failed"', record) is False
    assert run('$.status != "failed"', record) is False
    assert run("exists($.status)", record) is False
    assert run("reset", record) is False
    assert run("orders", record) is True  # the name still matches


def test_needs_payload_only_when_it_may():
    assert not needs_payload(parse("name:a/* and state:acked or sender:bob"))
    assert not needs_payload(None)
    for text in ("a", "re:/a/", "$.a == 1", "exists($.a)", "not state:undecryptable"):
        assert needs_payload(parse(text)), text


def test_records_too_strange_to_read_are_no_match():
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    record = Rec(payload=deep)
    assert run("$[0][0][0] == 1", record) is False
    assert run("$..x == 1", record) is False  # the library recurses: still just no match
    assert run("zzz", record) is False


@pytest.mark.parametrize("label", sorted(QUERY_INJECTION))
def test_a_filter_made_from_a_field_matches_it_as_data(label):
    text = QUERY_INJECTION[label]
    payload = {text: {"k": text}, "other": "x", "list": [{"k": text}]}
    for keys, value in (([text, "k"], text), (["list", None, "k"], text), ([text], {"k": text})):
        query = field_filter(keys, value)
        node = parse(query)
        assert parse(str(node)) == node
        access = RecAccess()
        assert compile_test(node, access)(Rec(payload=payload)) is True, query
        assert compile_test(node, access)(Rec(payload={"other": text})) is False, query


def test_path_to_writes_rfc_paths():
    assert path_to(["orderId"]) == "$.orderId"
    assert path_to(["lines", None, "sku"]) == "$.lines[*].sku"
    assert path_to(["a b", 0, "é"]) == '$["a b"][0].é'
    assert path_to(["\ud800"]) == '$["\\ud800"]'
    assert compile_path(path_to(["x", 'q"\\', 3])).fast


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "X-1", "", "é"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "a b", "sku"]), children, max_size=3)
    ),
    max_leaves=12,
)
_FILTERS = st.sampled_from(
    [
        "$.a == 1",
        '$.a != "a"',
        "$.b > 0 or $.a < 0",
        '$[*].sku == "X-1"',
        "exists($.a.b) and not $.a == null",
        '$..sku == "X-1"',
        "$[?@.a > 1] == 2 or a",
        '$["a b"][0] >= -1',
        "not (x1 or é)",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_FILTERS, _JSON)
def test_a_filter_printed_and_read_again_decides_the_same(text, doc):
    node = parse(text)
    again = parse(str(node))
    access = RecAccess()
    record = Rec(payload=doc)
    assert compile_test(node, access)(record) == compile_test(again, access)(record)


_PATHS = st.sampled_from(["$..a", "$..sku", "$..[0]", "$..*", "$.a..b", "$[*].a", "$..['a','b']"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_PATHS, _JSON)
def test_the_plain_walker_selects_what_the_library_selects(text, doc):
    path = compile_path(text)
    assert path.fast
    assert list(path.values(doc)) == [node.value for node in path.query.finditer(doc)]
