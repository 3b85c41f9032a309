"""Schemas: matching a payload's fields, numeric words of every SDK, templates."""

from __future__ import annotations

from ensync_tui.protocol.crypto import payload_skeleton
from ensync_tui.protocol.schema import SCHEMA_TYPES, field_problems, matches, template


def test_numbers_match_as_the_sdks_write_them() -> None:
    assert matches("long", "integer") and matches("double", "long")
    assert matches("integer", "number") and matches("number", "double")
    assert not matches("integer", "double") and not matches("string", "integer")
    assert not matches("boolean", "integer")


def test_every_problem_by_field() -> None:
    schema = {"id": "string", "n": "long", "tags": "array"}
    assert field_problems(schema, {"id": "a", "n": 2, "tags": []}) == {}
    assert field_problems(schema, {"id": 1, "x": None}) == {
        "id": "expected string, got integer",
        "n": "missing (long)",
        "tags": "missing (array)",
        "x": "not in the schema",
    }
    assert field_problems(schema, [1, 2]) == {"": "the payload is not a JSON object"}


def test_a_template_has_every_field_with_a_placeholder_of_its_type() -> None:
    schema = {word: word for word in sorted(SCHEMA_TYPES)}
    made = template(schema)
    assert list(made) == list(schema)
    assert field_problems(schema, made) == {}
    assert payload_skeleton(made)["string"] == "string" and made["object"] == {}
    assert made["array"] == [] and made["array"] is not template(schema)["array"]
