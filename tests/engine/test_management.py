"""The management API's routes, as EnSync's CLI calls them: answers, paging,
filters, and every refusal changing nothing."""

from __future__ import annotations

import base64
from datetime import datetime

from ensync_tui.engine import EngineConfig, EngineServer
from ensync_tui.protocol.crypto import public_key_of
from tests.engine.api import ADMIN_KEY, call, ok, refused
from tests.engine.conftest import MESSAGES


def _time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


async def _names(server: EngineServer) -> list[str]:
    page = await ok(server, "GET", "/event?limit=100&order=ASC&orderBy=name")
    return [e["name"] for e in page["results"]]


async def _key_names(server: EngineServer) -> list[str]:
    page = await ok(server, "GET", "/access-key?limit=100&order=ASC&orderBy=name")
    return [k["name"] for k in page["results"]]


# ------------------------------------------------------------------ ping, auth


async def test_ping_answers_pong_without_a_key(engine) -> None:
    answer = await call(engine, "GET", "/ping", key=None)
    assert (answer.status, answer.body) == (200, b"pong")


async def test_an_account_key_in_either_header_is_accepted(engine) -> None:
    for header in ("X-ACCESS-KEY", "X-API-KEY", "x-api-key"):
        page = await ok(engine, "GET", "/event", header=header)
        assert page["resultsLength"] == len(MESSAGES)


async def test_requests_without_a_valid_account_key_are_refused(engine, ids) -> None:
    assert "X-ACCESS-KEY" in await refused(engine, 401, "GET", "/event", key=None)
    assert "invalid access key" in await refused(engine, 401, "GET", "/event", key="nope")
    message = await refused(engine, 403, "GET", "/event", key=ids["alice"].access_key)
    assert "SERVICE key cannot manage" in message
    both = {"X-API-KEY": "other"}
    assert "different" in await refused(engine, 400, "GET", "/event", extra=both)
    # nothing is created with a bad key
    body = {"name": "sneaky/name"}
    await refused(engine, 401, "POST", "/event", body, key="nope")
    await refused(engine, 403, "POST", "/event", body, key=ids["bob"].access_key)
    assert "sneaky/name" not in await _names(engine)


async def test_an_engine_without_accounts_says_how_to_add_one(ids) -> None:
    cfg = EngineConfig(clients=[ids["alice"].spec()], port=0)
    async with EngineServer(cfg) as server:
        assert "[[accounts]]" in await refused(server, 401, "GET", "/event")


async def test_unknown_routes_and_methods(engine) -> None:
    assert "no such route" in await refused(engine, 404, "GET", "/nothing")
    answer = await call(engine, "PATCH", "/event")
    assert answer.status == 405 and answer.headers["allow"] == "GET, POST"
    assert "no workspaces" in await refused(engine, 501, "GET", "/workspace")


# ---------------------------------------------------------------------- events


async def test_events_list_the_registered_names_with_string_ids_and_times(engine) -> None:
    page = await ok(engine, "GET", "/event?pageIndex=0&limit=10&order=DESC&orderBy=createdAt")
    assert page["resultsLength"] == 3
    by_name = {e["name"]: e for e in page["results"]}
    assert set(by_name) == {m.name for m in MESSAGES}
    status = by_name["orders/status"]
    assert status["payload"] == {"order_id": "string", "status": "string", "qty": "long"}
    assert by_name["orders/created"]["payload"] == {}
    for e in page["results"]:
        assert isinstance(e["id"], str) and e["id"]
        assert _time(e["createdAt"]) <= _time(e["updatedAt"])


async def test_events_page_order_and_filter(engine) -> None:
    for i in range(25):
        await ok(engine, "POST", "/event", {"name": f"page/n{i:02d}"})
    total = 28
    pages = [
        await ok(engine, "GET", f"/event?pageIndex={i}&limit=10&order=ASC&orderBy=name")
        for i in range(4)
    ]
    assert [p["resultsLength"] for p in pages] == [total] * 4
    assert [len(p["results"]) for p in pages] == [10, 10, 8, 0]
    names = [e["name"] for p in pages for e in p["results"]]
    assert names == sorted(names) and len(set(names)) == total
    desc = await ok(engine, "GET", "/event?limit=100&order=desc&orderBy=name")
    assert [e["name"] for e in desc["results"]] == names[::-1]
    newest = await ok(engine, "GET", "/event?limit=1&order=DESC&orderBy=createdAt")
    assert newest["results"][0]["name"] == "page/n24"
    filtered = await ok(engine, "GET", "/event?limit=100&name=page/n1")
    assert filtered["resultsLength"] == 10
    assert all(e["name"].startswith("page/n1") for e in filtered["results"])
    default = await ok(engine, "GET", "/event")
    assert len(default["results"]) == 10


async def test_bad_paging_is_refused(engine) -> None:
    for query, words in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("pageIndex=-1", "pageIndex"),
        ("order=UP", "order"),
        ("orderBy=colour", "orderBy"),
        ("colour=red", "unknown query parameter 'colour'"),
    ]:
        assert words in await refused(engine, 400, "GET", f"/event?{query}")
    assert "1 to 100" in await refused(engine, 400, "GET", "/access-key?limit=500")


async def test_create_an_event_and_read_it_back_by_its_escaped_name(engine) -> None:
    schema = {"id": "string", "amount": "double", "paid": "boolean"}
    made = await ok(engine, "POST", "/event", {"name": "billing/paid", "payload": schema})
    assert made["name"] == "billing/paid" and made["payload"] == schema
    got = await ok(engine, "GET", "/event/billing%2Fpaid")
    assert got == made
    assert "billing/paid" in await _names(engine)
    plain = await ok(engine, "POST", "/event", {"name": "plain"})
    assert plain["payload"] == {}


async def test_bad_events_are_refused_and_change_nothing(engine) -> None:
    before = await _names(engine)
    for body, words in [
        ({"name": "has space"}, "no spaces"),
        ({"name": "semi;colon"}, "';'"),
        ({"name": ""}, "non-empty"),
        ({"name": 7}, "non-empty string"),
        ({"payload": {}}, "name is missing"),
        ({"name": "x/y", "payload": {"a": "strnig"}}, "unknown type 'strnig'"),
        ({"name": "x/y", "payload": {"a": 5}}, "unknown type 'int'"),
        ({"name": "x/y", "payload": ["string"]}, "must be an object"),
        ({"name": "x/y", "colour": 1}, "unknown field 'colour'"),
        ({"name": "x" * 300}, "at most 256"),
        ({"name": "evil\x1b[2J"}, "control or format characters"),
        ({"name": "abc\u202edcba"}, "control or format characters"),
        ({"name": "orders/created"}, None),
    ]:
        status = 409 if words is None else 400
        message = await refused(engine, status, "POST", "/event", body)
        assert words is None or words in message, message
    for raw, words in [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"name": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"", "JSON object body"),
    ]:
        assert words in await refused(engine, 400, "POST", "/event", raw=raw)
    assert await _names(engine) == before


async def test_get_unknown_or_badly_escaped_event_names(engine) -> None:
    assert "no message name" in await refused(engine, 404, "GET", "/event/nope%2Fnothing")
    assert "UTF-8" in await refused(engine, 400, "GET", "/event/%FF%FE")
    assert "takes none" in await refused(engine, 400, "GET", "/event/orders%2Fcreated?x=1")


async def test_update_an_event_by_id(engine) -> None:
    made = await ok(engine, "POST", "/event", {"name": "ship/sent", "payload": {"a": "string"}})
    path = f"/event/{made['id']}"
    renamed = await ok(engine, "PUT", path, {"name": "ship/dispatched", "payload": {}})
    assert renamed["name"] == "ship/dispatched" and renamed["payload"] == {"a": "string"}
    assert renamed["id"] == made["id"] and renamed["createdAt"] == made["createdAt"]
    kept = await ok(engine, "PUT", path, {"name": "", "payload": {"a": "long"}})
    assert kept["name"] == "ship/dispatched" and kept["payload"] == {"a": "long"}
    assert _time(kept["updatedAt"]) >= _time(made["updatedAt"])
    names = await _names(engine)
    assert "ship/dispatched" in names and "ship/sent" not in names
    assert "no message name with id" in await refused(engine, 404, "PUT", "/event/nope", {})
    taken = {"name": "orders/created"}
    assert "already registered" in await refused(engine, 409, "PUT", path, taken)
    bad = {"payload": {"a": "text"}}
    assert "unknown type 'text'" in await refused(engine, 400, "PUT", path, bad)
    assert (await ok(engine, "GET", "/event/ship%2Fdispatched"))["payload"] == {"a": "long"}


# ------------------------------------------------------------------------ keys


async def test_access_keys_list_filter_and_order(engine, ids) -> None:
    page = await ok(engine, "GET", "/access-key?pageIndex=0&limit=20&order=DESC&orderBy=key")
    assert page["resultsLength"] == 5
    by_name = {k["name"]: k for k in page["results"]}
    assert set(by_name) == {"alice", "bob", "carol", "limited", "admin"}
    limited = by_name["limited"]
    assert limited["type"] == "SERVICE" and limited["key"] == ids["limited"].access_key
    assert limited["permissions"] == {"send": ["orders/*"], "receive": ["billing/*"]}
    assert limited["service_key_pair"] == {"public_key": ids["limited"].public_key}
    assert by_name["admin"]["type"] == "ACCOUNT" and "service_key_pair" not in by_name["admin"]
    keys = [k["key"] for k in page["results"]]
    assert keys == sorted(keys, reverse=True)
    one = await ok(engine, "GET", f"/access-key?accessKey={ids['bob'].access_key}")
    assert [k["name"] for k in one["results"]] == ["bob"]
    named = await ok(engine, "GET", "/access-key?name=li")
    assert sorted(k["name"] for k in named["results"]) == ["alice", "limited"]


async def test_create_a_service_key_with_its_key_pair(engine) -> None:
    body = {"type": "SERVICE", "name": "shipping", "permissions": {"send": ["orders/*"]}}
    made = await ok(engine, "POST", "/access-key", body)
    assert made["type"] == "SERVICE" and made["name"] == "shipping"
    assert isinstance(made["id"], str) and made["accessKey"]
    _time(made["createdAt"])
    pair = made["service_key_pair"]
    assert len(base64.b64decode(pair["public_key"], validate=True)) == 32
    assert len(base64.b64decode(pair["private_key"], validate=True)) == 64
    assert public_key_of(pair["private_key"]) == pair["public_key"]
    assert made["permissions"] == {"send": ["orders/*"], "receive": []}
    got = await ok(engine, "GET", f"/access-key/{made['id']}")
    assert got["key"] == made["accessKey"]
    assert got["service_key_pair"] == {"public_key": pair["public_key"]}  # never the secret
    assert "shipping" in await _key_names(engine)


async def test_create_an_account_key(engine) -> None:
    made = await ok(engine, "POST", "/access-key", {"type": "ACCOUNT", "name": "ops"})
    assert made["type"] == "ACCOUNT" and "service_key_pair" not in made
    page = await ok(engine, "GET", "/event", key=made["accessKey"])
    assert page["resultsLength"] == 3


async def test_bad_keys_are_refused_and_change_nothing(engine) -> None:
    before = await _key_names(engine)
    for body, status, words in [
        ({"type": "ROBOT", "name": "r2"}, 400, "SERVICE or ACCOUNT"),
        ({"type": "SERVICE"}, 400, "name must be"),
        ({"type": "SERVICE", "name": "bob"}, 409, "exists already"),
        ({"name": "x", "permissions": {"send": "orders/*"}}, 400, "list"),
        ({"name": "x", "permissions": {"send": ["bad name"]}}, 400, "no spaces"),
        ({"name": "x", "permissions": {"write": []}}, 400, "unknown field 'write'"),
        ({"name": "x", "permissions": ["orders/*"]}, 400, "send and receive"),
        ({"name": "tab\there"}, 400, "control characters"),
    ]:
        assert words in await refused(engine, status, "POST", "/access-key", body)
    assert await _key_names(engine) == before


async def test_get_and_delete_a_key_by_id(engine) -> None:
    made = await ok(engine, "POST", "/access-key", {"type": "SERVICE", "name": "temp"})
    answer = await call(engine, "DELETE", f"/access-key/{made['id']}")
    assert answer.status == 204 and answer.body == b""
    assert "no access key" in await refused(engine, 404, "GET", f"/access-key/{made['id']}")
    assert "no access key" in await refused(engine, 404, "DELETE", f"/access-key/{made['id']}")
    assert "temp" not in await _key_names(engine)


async def test_the_last_account_key_cannot_be_deleted(engine) -> None:
    page = await ok(engine, "GET", "/access-key?name=admin")
    admin = page["results"][0]
    assert "last account key" in await refused(engine, 409, "DELETE", f"/access-key/{admin['id']}")
    other = await ok(engine, "POST", "/access-key", {"type": "ACCOUNT", "name": "ops"})
    await ok(engine, "DELETE", f"/access-key/{admin['id']}", key=other["accessKey"])
    await refused(engine, 401, "GET", "/event", key=ADMIN_KEY)


async def test_permissions_by_access_key(engine, ids) -> None:
    key = ids["limited"].access_key
    got = await ok(engine, "GET", f"/access-key/{key}/permissions")
    assert got["key"] == key and got["name"] == "limited"
    assert got["permissions"] == {"send": ["orders/*"], "receive": ["billing/*"]}
    new = {"send": ["billing/invoice"], "receive": ["*"]}
    changed = await ok(engine, "POST", f"/access-key/{key}/permissions", new)
    assert changed["permissions"] == new
    assert (await ok(engine, "GET", f"/access-key/{key}/permissions"))["permissions"] == new
    assert "no such access key" in await refused(engine, 404, "GET", "/access-key/nope/permissions")
    bad = {"send": ["ok/*", "not ok"]}
    assert "no spaces" in await refused(engine, 400, "POST", f"/access-key/{key}/permissions", bad)
    account = f"/access-key/{ADMIN_KEY}/permissions"
    assert "ACCOUNT key" in await refused(engine, 400, "POST", account, new)
    assert (await ok(engine, "GET", f"/access-key/{key}/permissions"))["permissions"] == new


async def test_rotate_a_service_key_pair(engine, ids) -> None:
    key = ids["carol"].access_key
    pair = await ok(engine, "PUT", "/access/service-key-pair", {"access_key": key})
    assert set(pair) == {"public_key", "private_key"}
    assert pair["public_key"] != ids["carol"].public_key
    assert public_key_of(pair["private_key"]) == pair["public_key"]
    got = await ok(engine, "GET", f"/access-key/{key}/permissions")
    assert got["service_key_pair"] == {"public_key": pair["public_key"]}
    path = "/access/service-key-pair"
    assert "no such access key" in await refused(engine, 404, "PUT", path, {"access_key": "x"})
    assert "access_key must be" in await refused(engine, 400, "PUT", path, {})
    assert "ACCOUNT key" in await refused(engine, 400, "PUT", path, {"access_key": ADMIN_KEY})
