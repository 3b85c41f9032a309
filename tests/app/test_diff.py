from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ensync_tui.app.diff import ADDED, CHANGED, REMOVED, Change, diff, short_json


def test_nested_changes_name_their_path():
    old = {"status": "packed", "details": {"tracking": {"code": "A"}}, "gone": 1, "items": [1, 2]}
    new = {"status": "shipped", "details": {"tracking": {"code": "B"}}, "items": [1, 3, 4], "x": 0}
    changes, cut = diff(old, new)
    assert not cut
    assert set(changes) == {
        Change("status", CHANGED, "packed", "shipped"),
        Change("details.tracking.code", CHANGED, "A", "B"),
        Change("gone", REMOVED, old=1),
        Change("x", ADDED, new=0),
        Change("items[1]", CHANGED, 2, 3),
        Change("items[2]", ADDED, new=4),
    }


def test_equal_values_have_no_changes_and_types_count():
    assert diff({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) == ([], False)
    assert diff(1, 1.0)[0] == [Change("", CHANGED, 1, 1.0)]
    assert diff(True, 1)[0] == [Change("", CHANGED, True, 1)]
    assert diff({"a": 1}, [1])[0] == [Change("", CHANGED, {"a": 1}, [1])]


def test_odd_keys_are_quoted():
    changes, _ = diff({"a b": 1, "ü-x": {"k": 1}}, {"a b": 2, "ü-x": {"k": 2}})
    assert [c.path for c in changes] == ['["a b"]', '["ü-x"].k']


def test_a_long_diff_is_cut_and_says_so():
    changes, cut = diff({str(i): i for i in range(1000)}, {}, limit=10)
    assert cut and len(changes) == 10
    changes, cut = diff([[i] for i in range(50)], [[-i] for i in range(50)], limit=10)
    assert cut and len(changes) == 10


def test_short_json_cuts_long_values():
    assert short_json({"a": 1}) == '{"a":1}'
    assert short_json("x" * 100, width=10) == '"xxxxxxxx…'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, json_values)
def test_no_changes_exactly_when_equal(a, b):
    changes, cut = diff(a, b)
    assert not cut
    same = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # 1 != true in JSON
    assert (changes == []) == same


def _held(count: int):
    from ensync_tui.app.history import History

    from .conftest import SNAP_SECRET, build_records

    history = History(secret_key=SNAP_SECRET)
    history.add(build_records(count))
    return history, list(history.entries), SNAP_SECRET


def changes_text(*args) -> str:
    from ensync_tui.app.widgets.changes import changes_view

    return "\n".join(line.plain for line in changes_view(*args))


def test_changes_tab_lists_what_changed_since_the_previous_of_the_name():

    history, entries, key = _held(7)
    text = changes_text(entries[6], history.previous_of(entries[6]), key)
    assert f"idem {entries[3].idem}" in text
    assert "3 changed" in text
    assert "~ order.id  1003 → 1006" in text
    assert "~ total  22.5 → 25.5" in text
    first = changes_text(entries[0], history.previous_of(entries[0]), key)
    assert "nothing to compare" in first
    same = changes_text(entries[3], entries[3], key)
    assert same.endswith("Same payload.")


def test_changes_tab_says_why_it_cannot_compare():

    _history, entries, _key = _held(4)
    text = changes_text(entries[3], entries[0], None)
    assert "Cannot compare: this message: cannot decrypt: no app secret key set" in text
