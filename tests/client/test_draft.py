"""The publishing draft: what the composer and `ensync-tui publish` both accept."""

from __future__ import annotations

import json

import pytest

from ensync_tui.client import EnSyncEngine, crypto
from ensync_tui.client.publishing import (
    Draft,
    DraftError,
    Message,
    sealed_size,
    split_recipients,
)
from ensync_tui.protocol.limits import MAX_PAYLOAD
from tests.client.scripted import ScriptedServer

SELF_KEY, ALICE_KEY, BOB_KEY = (crypto.generate_keypair()[0] for _ in range(3))
CONTACTS = {"Alice": ALICE_KEY, "bob": BOB_KEY}


def draft(**fields) -> Draft:
    base = {"name": "orders/created", "recipients": "self", "payload": "{}"}
    return Draft(**{**base, **fields}, contacts=CONTACTS, self_key=SELF_KEY)


def test_recipients_split_on_spaces_commas_and_new_lines():
    assert split_recipients("self, alice\n\nbob ,alice  carol\tdave") == [
        "self",
        "alice",
        "bob",
        "carol",
        "dave",
    ]


def test_contacts_are_case_insensitive_and_keys_and_self_resolve():
    resolved, problems = draft(recipients=f"SELF alice ALICE {BOB_KEY}, Bob").resolve()
    assert problems == []
    assert resolved == [("self", SELF_KEY), ("Alice", ALICE_KEY), ("", BOB_KEY)]


def test_each_unknown_name_is_its_own_problem_with_the_names_known():
    _, problems = draft(recipients="bob mallory, eve\nAQID").resolve()
    known = "(known: self, Alice, bob)"
    assert problems == [
        ("recipients", f"'mallory' is neither a public key nor a contact {known}"),
        ("recipients", f"'eve' is neither a public key nor a contact {known}"),
        ("recipients", f"'AQID' is neither a public key nor a contact {known}"),
    ]
    not_a_key = "A" * 43 + "="  # long enough to be meant as a key
    _, problems = draft(recipients=not_a_key).resolve()
    assert problems == [("recipients", "'AAAAAA…AAAAA=' is not a valid Ed25519 public key")]
    assert draft(recipients=" ,\n").resolve() == (
        [],
        [("recipients", "add at least one recipient")],
    )


def test_self_without_a_key_of_its_own_is_unknown():
    plain = Draft(name="a/b", recipients="self", payload="{}")
    assert plain.validate() == [
        ("recipients", "'self' is neither a public key nor a contact (no contacts)")
    ]


def test_the_payload_is_a_json_object_and_a_mistake_has_its_line_and_column():
    assert draft(payload='{"a": [1, 2]}').parse_payload() == ({"a": [1, 2]}, [])
    assert draft(payload="  ").parse_payload() == (None, [("payload", "the payload is empty")])
    value, problems = draft(payload='{\n  "a": [1,\n}').parse_payload()
    assert value is None
    assert problems == [("payload", "not valid JSON: line 3, column 1: Expecting value")]
    assert draft(payload="[1, 2]").parse_payload()[1] == [
        ("payload", "the payload must be a JSON object")
    ]
    assert draft(payload="[" * 100_000).parse_payload()[1] == [
        ("payload", "not valid JSON: nested too deeply")
    ]


def test_headers_are_key_value_lines_or_one_json_object():
    assert draft(headers="").parse_headers() == ({}, [])
    assert draft(headers="trace = abc\n\n b = x=y ").parse_headers() == (
        {"trace": "abc", "b": "x=y"},
        [],
    )
    assert draft(headers='{"a": {"b": 1}}').parse_headers() == ({"a": {"b": 1}}, [])
    assert draft(headers="ok=1\nnot a header\n=v").parse_headers() == (
        {"ok": "1"},
        [
            ("headers", "line 2: expected key=value, got 'not a header'"),
            ("headers", "line 3: expected key=value, got '=v'"),
        ],
    )
    assert draft(headers="{broken").parse_headers()[1] == [
        ("headers", "not valid JSON: line 1, column 2: Expecting property name enclosed in "
         "double quotes")
    ]  # fmt: skip


def test_validate_returns_every_problem_at_once():
    bad = draft(name="orders created", recipients="nobody", payload="{", headers="x")
    assert [field for field, _ in bad.validate()] == ["name", "recipients", "payload", "headers"]
    assert bad.validate()[0] == (
        "name",
        "'orders created' is not a message name (no spaces or ';')",
    )
    assert draft(name="a;b").name_problems() != []
    assert draft(name=" ").validate() == [("name", "a message name is required")]
    with pytest.raises(DraftError) as info:
        bad.message()
    assert info.value.problems == bad.validate()
    assert str(info.value).startswith("EnSyncValidationError: name: 'orders created'")


def test_a_valid_draft_is_a_message():
    message = draft(
        name=" orders/created ",
        recipients="self bob",
        payload='{"n": 1}',
        headers="trace=abc",
        persist=False,
    ).message()
    assert message == Message(
        "orders/created",
        [SELF_KEY, BOB_KEY],
        {"n": 1},
        {"persist": False, "headers": {"trace": "abc"}},
        True,  # several recipients: one hybrid envelope unless told otherwise
    )
    assert draft(recipients="self bob", hybrid=False).message().hybrid is False
    assert draft(recipients="self").message().hybrid is False
    assert draft(recipients="self", hybrid=True).message().hybrid is True


def test_the_size_is_counted_once_encrypted_against_the_engine_limit():
    big = json.dumps({"blob": "x" * (MAX_PAYLOAD * 3 // 4)})
    problems = draft(payload=big).validate()
    assert problems == [("payload", "5.3 MiB once encrypted, over the 4.0 MiB the engine takes")]
    assert (
        draft(payload=json.dumps({"blob": "x" * 2_000_000}), recipients="self bob").validate() == []
    )


def test_sealed_size_is_what_the_engine_gets():
    keys = [SELF_KEY, ALICE_KEY, BOB_KEY]
    for text in ("x", "é" * 1000, "y" * 100_001):
        value = {"blob": text}
        plain_size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        for recipients, hybrid in (
            (keys[:1], False),
            (keys[:1], True),
            (keys, True),
            (keys, False),
        ):
            boxed = recipients if hybrid else recipients[:1]
            sealed = crypto.encrypt_payload(value, boxed, True if hybrid else None)
            assert sealed_size(plain_size, recipients, hybrid) == len(sealed)


async def test_a_message_publishes_through_the_client_as_typed():
    keys = crypto.generate_keypair()
    async with ScriptedServer(keys[0]) as server:  # the engine knows our key as clientHash
        engine = EnSyncEngine(server.url, {"max_reconnect_attempts": 1, "request_timeout": 5})
        client = await engine.create_client("key-1", {"appSecretKey": keys[1]})
        try:
            typed = Draft(
                name="orders/created",
                recipients="Bob, self",
                payload='{"order": 42}',
                headers="trace=abc",
                contacts={"bob": BOB_KEY},
                self_key=client.get_client_public_key(),
            )
            results = await typed.message().publish(client)
            assert [r["recipient"] for r in results] == [BOB_KEY, keys[0]]
            pubs = [f for f in server.received if f.startswith("PUB;")]
            assert len(pubs) == 2
            assert all(';METADATA=:{"persist":true,"headers":{"trace":"abc"}}' in f for f in pubs)
            envelope = pubs[1].split(";PAYLOAD=:")[1].split(";DELIVERY_TO=:")[0]
            assert crypto.decrypt_payload(envelope, keys[1]) == {"order": 42}
        finally:
            await client.close()


def test_a_known_schema_is_checked_with_every_problem_at_once():
    schema = {"id": "string", "qty": "long"}
    good = draft(payload='{"id": "a", "qty": 2}', schema=schema)
    assert good.validate() == []
    bad = draft(payload='{"id": 5, "extra": true}', recipients="nobody", schema=schema)
    problems = bad.validate()
    assert (
        "payload",
        "field 'id': expected string, got integer (the schema of orders/created)",
    ) in problems
    assert ("payload", "field 'qty': missing (long) (the schema of orders/created)") in problems
    assert (
        "payload",
        "field 'extra': not in the schema (the schema of orders/created)",
    ) in problems
    assert any(field == "recipients" for field, _ in problems)  # the rest is still checked
    with pytest.raises(DraftError) as refused:
        bad.message()
    assert len(refused.value.problems) == len(problems)
    assert draft(payload='{"anything": 1}').validate() == []  # no schema known: not checked
