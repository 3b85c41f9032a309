"""EnSync's management API (its config-manager, as EnSync's CLI calls it) over the
registry: message names ("events") with their schemas, access keys and their
permissions, key pair rotation.

Every request but ``GET /ping`` carries an account key in ``X-ACCESS-KEY`` (what
EnSync's CLI sends) or ``X-API-KEY`` (what EnSync's docs show). Answers are JSON;
ids are strings and times RFC 3339, as EnSync's CLI decodes them. A refused
request changes nothing and is answered 4xx with ``{"status", "error", "message"}``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from ensync_tui.engine.catalog import ACCOUNT, SERVICE, EventRecord, KeyRecord
from ensync_tui.engine.http import HttpReply, HttpRequest, error_reply, json_reply
from ensync_tui.engine.registry import Registry, RegistryError
from ensync_tui.safetext import visible

log = logging.getLogger("ensync_tui.engine")

API_PATH = "/api/v1/ensync"
KEY_HEADERS = ("x-access-key", "x-api-key")
MAX_LIMIT = 100
DEFAULT_LIMIT = 10
_EVENT_ORDER = {"name": "name", "createdAt": "created_at", "updatedAt": "updated_at"}
_KEY_ORDER = {"name": "name", "createdAt": "created_at", "key": "access_key", "type": "type"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or []


Handler = Callable[[HttpRequest, list[str], dict[str, str]], HttpReply]


class ManagementApi:
    """``handle(request) -> reply`` for every request under :data:`API_PATH`."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        # (first segment, number of segments) -> {method: (route, handler)}
        self._routes: dict[tuple[str, ...], dict[str, tuple[str, Handler]]] = {
            ("ping",): {"GET": ("/ping", self._ping)},
            ("event",): {
                "GET": ("/event", self._list_events),
                "POST": ("/event", self._create_event),
            },
            ("event", "*"): {
                "GET": ("/event/{name}", self._get_event),
                "PUT": ("/event/{id}", self._update_event),
            },
            ("access-key",): {
                "GET": ("/access-key", self._list_keys),
                "POST": ("/access-key", self._create_key),
            },
            ("access-key", "*"): {
                "GET": ("/access-key/{id}", self._get_key),
                "DELETE": ("/access-key/{id}", self._delete_key),
            },
            ("access-key", "*", "permissions"): {
                "GET": ("/access-key/{key}/permissions", self._get_permissions),
                "POST": ("/access-key/{key}/permissions", self._set_permissions),
            },
            ("access", "service-key-pair"): {
                "PUT": ("/access/service-key-pair", self._rotate),
            },
            ("workspace",): {
                "GET": ("/workspace", self._workspaces),
                "POST": ("/workspace", self._workspaces),
            },
        }

    def handle(self, request: HttpRequest) -> HttpReply:
        route = "?"
        try:
            segments, query = _split_target(request.target)
            pattern = _pattern(segments)
            methods = self._routes.get(pattern)
            if methods is None:
                raise ApiError(404, f"no such route under {API_PATH}")
            if request.method not in methods:
                allowed = ", ".join(methods)
                raise ApiError(
                    405,
                    f"{request.method} is not served here (only {allowed})",
                    [("allow", allowed)],
                )
            route, handler = methods[request.method]
            authenticated = route == "/ping" or self._authenticate(request)
            reply = handler(request, segments, query)
            reply.authenticated = authenticated and route != "/ping"
        except ApiError as exc:
            reply = error_reply(exc.status, str(exc), headers=exc.headers)
        except RegistryError as exc:
            reply = error_reply(exc.status, str(exc), authenticated=True)
        log.info(
            "%s: %s %s%s -> %d",
            request.peer,
            visible(request.method[:10]),
            API_PATH,
            route,
            reply.status,
        )
        return reply

    def _authenticate(self, request: HttpRequest) -> bool:
        given = [request.headers[h] for h in KEY_HEADERS if request.headers.get(h)]
        if not given:
            raise ApiError(401, "send an account key in the X-ACCESS-KEY (or X-API-KEY) header")
        if len(set(given)) > 1:
            raise ApiError(400, "X-ACCESS-KEY and X-API-KEY hold different keys")
        record = self.registry.find_key(given[0])
        if record is None:
            if not self.registry.has_accounts:
                raise ApiError(
                    401, "this engine has no account key: add an [[accounts]] entry to engine.toml"
                )
            raise ApiError(401, "invalid access key")
        if record.type != ACCOUNT:
            raise ApiError(403, "a SERVICE key cannot manage the engine: use an ACCOUNT key")
        return True

    # ------------------------------------------------------------------ ping

    def _ping(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        return HttpReply(200, b"pong", "text/plain; charset=utf-8")

    def _workspaces(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        raise ApiError(501, "the local engine has no workspaces: message names stand alone")

    # ---------------------------------------------------------------- events

    def _list_events(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        page = _Page(query, _EVENT_ORDER, ("name",))
        found = [e for e in self.registry.events.values() if page.wanted("name", e.name)]
        return page.reply(found, event_json)

    def _create_event(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        _no_query(query)
        body = _body(request, ("name", "payload"))
        if "name" not in body:
            raise ApiError(400, "name is missing")
        record = self.registry.create_event(body["name"], body.get("payload"))
        return json_reply(201, event_json(record), authenticated=True)

    def _get_event(
        self, request: HttpRequest, segments: list[str], query: dict[str, str]
    ) -> HttpReply:
        _no_query(query)
        return json_reply(200, event_json(self.registry.event_named(segments[1])))

    def _update_event(
        self, request: HttpRequest, segments: list[str], query: dict[str, str]
    ) -> HttpReply:
        _no_query(query)
        body = _body(request, ("id", "name", "payload", "createdAt", "updatedAt"))
        name = body.get("name")
        if name == "":
            name = None  # EnSync's CLI sends "" for "keep the name"
        record = self.registry.update_event(segments[1], name, body.get("payload"))
        return json_reply(200, event_json(record))

    # ------------------------------------------------------------------ keys

    def _list_keys(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        page = _Page(query, _KEY_ORDER, ("accessKey", "name"))
        found = [
            k
            for k in self.registry.keys.values()
            if page.wanted("name", k.name) and page.exact("accessKey", k.access_key)
        ]
        return page.reply(found, key_json)

    def _create_key(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        _no_query(query)
        body = _body(request, ("type", "name", "permissions"))
        send, receive = _permissions(body.get("permissions"), ("send", "receive", "resources"))
        kind = body.get("type", SERVICE)
        record, secret = self.registry.create_key(kind, body.get("name"), send, receive)
        out = {"accessKey": record.access_key, **key_json(record)}
        del out["key"]
        if secret is not None:
            out["service_key_pair"] = {"public_key": record.public_key, "private_key": secret}
        return json_reply(201, out, authenticated=True)

    def _get_key(
        self, request: HttpRequest, segments: list[str], query: dict[str, str]
    ) -> HttpReply:
        _no_query(query)
        return json_reply(200, key_json(self.registry.key(segments[1])))

    def _delete_key(
        self, request: HttpRequest, segments: list[str], query: dict[str, str]
    ) -> HttpReply:
        _no_query(query)
        self.registry.delete_key(segments[1])
        return HttpReply(204)

    def _get_permissions(
        self, request: HttpRequest, segments: list[str], query: dict[str, str]
    ) -> HttpReply:
        _no_query(query)
        return json_reply(200, key_json(self.registry.key_of(segments[1])))

    def _set_permissions(
        self, request: HttpRequest, segments: list[str], query: dict[str, str]
    ) -> HttpReply:
        _no_query(query)
        body = _body(request, ("send", "receive", "resources"))
        send, receive = _permissions(body, ())
        record = self.registry.set_permissions(segments[1], send, receive)
        return json_reply(200, key_json(record))

    def _rotate(self, request: HttpRequest, _: list[str], query: dict[str, str]) -> HttpReply:
        _no_query(query)
        body = _body(request, ("access_key",))
        key = body.get("access_key")
        if not isinstance(key, str) or not key:
            raise ApiError(400, "access_key must be the access key whose key pair to rotate")
        record, secret = self.registry.rotate(key)
        return json_reply(200, {"public_key": record.public_key, "private_key": secret})


# ------------------------------------------------------------------- answers


def rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_json(e: EventRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "payload": dict(e.schema or {}),
        "createdAt": rfc3339(e.created_at),
        "updatedAt": rfc3339(e.updated_at),
    }


def key_json(k: KeyRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": k.id,
        "key": k.access_key,
        "name": k.name,
        "type": k.type,
        "createdAt": rfc3339(k.created_at),
        "permissions": {"send": list(k.send), "receive": list(k.receive)},
    }
    if k.public_key is not None:
        out["service_key_pair"] = {"public_key": k.public_key}
    return out


# ------------------------------------------------------------------- parsing


def _split_target(target: str) -> tuple[list[str], dict[str, str]]:
    path, _, query_text = target.partition("?")
    if not path.startswith(API_PATH + "/"):
        raise ApiError(404, f"the management API is under {API_PATH}")
    segments = path[len(API_PATH) + 1 :].split("/")
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()  # a trailing slash
    try:
        segments = [unquote(s, errors="strict") for s in segments]
    except UnicodeDecodeError:
        raise ApiError(400, "the path holds percent-escapes that are not UTF-8") from None
    try:
        pairs = parse_qsl(query_text, keep_blank_values=True, max_num_fields=32, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the query cannot be read: {exc}") from None
    return segments, dict(pairs)


def _pattern(segments: list[str]) -> tuple[str, ...]:
    """The route key: fixed words stay, the variable segment becomes ``*``."""
    if len(segments) == 2 and segments[0] in ("event", "access-key"):
        return (segments[0], "*")
    if len(segments) == 3 and segments[0] == "access-key" and segments[2] == "permissions":
        return ("access-key", "*", "permissions")
    return tuple(segments)


def _no_query(query: dict[str, str]) -> None:
    if query:
        raise ApiError(400, f"unknown query parameter {_first(query)!r} (this route takes none)")


def _first(query: dict[str, str]) -> str:
    return visible(next(iter(query))[:40])


def _body(request: HttpRequest, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not request.body.strip():
        raise ApiError(400, "the request needs a JSON object body")
    try:
        value = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the body must be a JSON object")
    for key in value:
        if key not in allowed:
            raise ApiError(
                400, f"unknown field {visible(key[:40])!r} (expected: {', '.join(allowed)})"
            )
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _permissions(value: Any, allowed: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    """``{"send": [...], "receive": [...]}``; missing or null lists are empty."""
    if value is None:
        return [], []
    if not isinstance(value, dict):
        raise ApiError(400, "permissions must be an object with send and receive lists")
    for key in value:
        if allowed and key not in allowed:
            raise ApiError(400, f"permissions: unknown field {visible(str(key)[:40])!r}")
    send, receive = value.get("send"), value.get("receive")
    return ([] if send is None else send), ([] if receive is None else receive)


class _Page:
    """``pageIndex``, ``limit``, ``order``, ``orderBy`` and filters of a list request."""

    def __init__(
        self, query: dict[str, str], order_by: dict[str, str], filters: tuple[str, ...]
    ) -> None:
        known = ("pageIndex", "limit", "order", "orderBy", *filters)
        for key in query:
            if key not in known:
                raise ApiError(
                    400,
                    f"unknown query parameter {visible(key[:40])!r} (expected: {', '.join(known)})",
                )
        self.index = _integer(query.get("pageIndex", "0"), "pageIndex", 0, 10**9)
        self.limit = _integer(query.get("limit", str(DEFAULT_LIMIT)), "limit", 1, MAX_LIMIT)
        order = query.get("order", "DESC")
        if order.upper() not in ("ASC", "DESC"):
            raise ApiError(400, f"order must be ASC or DESC, not {visible(order[:20])!r}")
        self.descending = order.upper() == "DESC"
        field = query.get("orderBy", "createdAt")
        if field not in order_by:
            raise ApiError(
                400,
                f"orderBy must be one of {', '.join(order_by)}, not {visible(field[:20])!r}",
            )
        self.attribute = order_by[field]
        self.filters = {k: query[k] for k in filters if query.get(k)}

    def wanted(self, key: str, value: str) -> bool:
        """A ``name`` filter matches the names that contain it."""
        text = self.filters.get(key)
        return text is None or text in value

    def exact(self, key: str, value: str) -> bool:
        text = self.filters.get(key)
        return text is None or text == value

    def reply(self, found: list[Any], to_json: Callable[[Any], dict[str, Any]]) -> HttpReply:
        # ties (names made in the same millisecond) go in the order they were made
        ranked = sorted(
            enumerate(found),
            key=lambda pair: (getattr(pair[1], self.attribute), pair[0]),
            reverse=self.descending,
        )
        start = self.index * self.limit
        page = [record for _, record in ranked[start : start + self.limit]]
        return json_reply(200, {"resultsLength": len(found), "results": [to_json(r) for r in page]})


def _integer(text: str, what: str, low: int, high: int | float = math.inf) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or not low <= int(text) <= high:
        shown = visible(text[:20])
        raise ApiError(400, f"{what} must be a whole number from {low} to {high}, not {shown!r}")
    return int(text)
