"""Reading filters: what each term means, how mistakes are told, and the round trip."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ensync_tui.query import QueryError, parse
from ensync_tui.query.parser import MAX_DEPTH, MAX_LENGTH
from ensync_tui.query.syntax import And, Compare, Exists, Field, Not, Or, Regex, Text


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("failed", Text("failed")),
        ("connection  reset", Text("connection  reset")),  # one phrase, spacing as typed
        ('"not found"', Text("not found")),
        ("name:orders/*", Field("name", "orders/*")),
        ("Name:orders/*", Field("name", "orders/*")),
        ('name:"a b"', Field("name", "a b")),
        ("sender:bob", Field("sender", "bob")),
        ("idem:0190*", Field("idem", "0190*")),
        ("state:Redelivered", Field("state", "redelivered")),
        ("header:trace=abc", Field("header", "trace=abc")),
        ("header:trace", Field("header", "trace")),
        (r"re:/ord-\d+/i", Regex(r"ord-\d+", "i")),
        (r"re:/a\/b/", Regex(r"a\/b")),
        ('$.status == "failed"', Compare("$.status", "==", "failed")),
        ("$.amount > 100", Compare("$.amount", ">", 100)),
        ("$.amount>=1.5", Compare("$.amount", ">=", 1.5)),
        ('$.lines[*].sku == "X-1"', Compare("$.lines[*].sku", "==", "X-1")),
        ("$.ok != true", Compare("$.ok", "!=", True)),
        ("$.gone == null", Compare("$.gone", "==", None)),
        ("$.s == 'it\\'s'", Compare("$.s", "==", "it's")),
        ('$.lines[?@.qty > 2 && @.sku == "a b"].sku < "z"', None),
        ("exists($.refund)", Exists("$.refund")),
        ("exists ( $.refund )", Exists("$.refund")),
        ("a b and c", And((Text("a b"), Text("c")))),
        ("a or b c", Or((Text("a"), Text("b c")))),
        ("not a", Not(Text("a"))),
        ("NOT a AND b OR c", Or((And((Not(Text("a")), Text("b"))), Text("c")))),
        ("(a or b) c", And((Or((Text("a"), Text("b"))), Text("c")))),
        ("a (b or c) or d", Or((And((Text("a"), Or((Text("b"), Text("c"))))), Text("d")))),
        ("12:30", Text("12:30")),  # not a term: digits before the colon
        ("", None),
        ("   ", None),
    ],
)
def test_reads(text, tree):
    parsed = parse(text)
    if tree is not None or not text.strip():
        assert parsed == tree
    assert parse(str(parsed)) == parsed if parsed is not None else True


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("$.status =", 10, "expected =="),
        ("$.status ==", 12, "expected a value"),
        ('$.status == "fa', 13, 'expected " to close'),
        ("$.status", 9, "expected ==, !=, <"),
        ("$.status == fa", 13, "expected a value"),
        ("$.a == 1x", 9, "expected a space or )"),
        ("$.a. == 1", 5, "in the path"),
        ("$[01] == 1", 3, "leading zero"),
        ("name:", 6, "expected a value after name:"),
        ("state:maybe", 7, "unknown state 'maybe': expected pending|acked"),
        ("colour:red", 1, "unknown term 'colour:'"),
        ("(a or b", 8, "expected ) to close the ( at column 1"),
        ("a)", 2, "no ( to close"),
        ("a and", 6, "expected a term"),
        ("or a", 1, "expected a term before or"),
        ("()", 2, "expected a term inside"),
        ("re:abc", 4, "expected /pattern/"),
        ("re:/abc", 4, "expected / to close"),
        ("re:/a/x", 7, "unknown or repeated flag"),
        (r"re:/(a)\1/", 5, "backreferences and lookaround are not supported"),
        ("re:/(?=a)/", 5, "not a pattern"),
        ("exists(a)", 8, "expected a path starting with $"),
        ("exists($.a", 11, "expected ) to close exists("),
        ("header:=x", 8, "expected header:key"),
        ("$.a == 1e999", 8, "number out of range"),
        ("$.a == " + "1" * 5000, 8, "number too long"),
        ('"\\x"', 2, "bad escape"),
    ],
)
def test_mistakes_say_where_and_what(text, column, words):
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.column == column, caught.value
    assert words in caught.value.message
    assert str(caught.value).startswith(f"column {column}: ")


def test_limits_are_refusals_not_crashes():
    with pytest.raises(QueryError, match="nested too deeply"):
        parse("(" * (MAX_DEPTH + 5) + "a" + ")" * (MAX_DEPTH + 5))
    with pytest.raises(QueryError, match="nested too deeply"):
        parse("not " * 1000 + "a")
    with pytest.raises(QueryError, match="at most"):
        parse("a" * (MAX_LENGTH + 1))
    with pytest.raises(QueryError):  # deep inside the path: the library's recursion
        parse("$[?" + "(" * 3000 + "@.a" + ")" * 3000 + "] == 1")
    with pytest.raises(QueryError):
        parse(None)  # type: ignore[arg-type]
    parse("(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1))


# -- properties ------------------------------------------------------------------------------
_PIECES = st.sampled_from(
    [
        "a",
        "Foo",
        "and",
        "or",
        "not",
        "AND",
        "(",
        ")",
        '"x y"',
        '"',
        "'",
        "\\",
        "name:orders/*",
        "name:",
        "sender:bob",
        "idem:01*",
        "state:acked",
        "state:nope",
        "header:k=v",
        "re:/a+/i",
        "re:/",
        "$.a",
        "$.a == 1",
        '$.b != "x"',
        "$.c[*].d > 2.5",
        "$[?@.x] <= 'q'",
        "==",
        "exists($.r)",
        "exists(",
        "$..*",
        "1",
        "true",
        ":",
        "x:y",
        "é",
        "\x00",
        "\u202e",
        "\ud800",
    ]
)
_GLUE = st.sampled_from([" ", "", "  ", "\t"])


@st.composite
def filter_texts(draw):
    pieces = draw(st.lists(_PIECES, max_size=12))
    return "".join(p + draw(_GLUE) for p in pieces)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(filter_texts())
def test_printed_and_read_again_gives_the_same_filter(text):
    try:
        tree = parse(text)
    except QueryError:
        return
    if tree is not None:
        assert parse(str(tree)) == tree, str(tree)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(filter_texts(), st.text(max_size=60)))
def test_bad_input_raises_only_the_parse_error(text):
    try:
        parse(text)
    except QueryError as exc:
        assert exc.column >= 1 and exc.message
