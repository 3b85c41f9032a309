"""A client for EnSync's management API (the config-manager EnSync's CLI calls, and
the one the local engine serves under ``/api/v1/ensync``): message names with their
schemas, access keys and permissions.

Blocking, on the standard library's ``http.client``; run it in a thread from async
code. TLS is verified as the WebSocket client verifies it (``ca_file``, and only
``insecure`` turns checking off). The account key goes in ``X-ACCESS-KEY`` and never
into a repr, a log line or an error.

    api = ManagementClient("http://127.0.0.1:8082/api/v1/ensync", account_key)
    for event in api.events():
        print(event.name, event.schema)
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ensync_tui.client.errors import EnSyncError, EnSyncValidationError
from ensync_tui.client.options import Options, ssl_context

__all__ = [
    "API_PATH",
    "AccessKey",
    "CreatedKey",
    "Event",
    "ManagementClient",
    "ManagementError",
    "api_url_for",
]

API_PATH = "/api/v1/ensync"
PAGE = 100  # the most a list answers at once
MAX_ANSWER = 8 * 1024 * 1024  # bytes of one answer read at most
MAX_PAGES = 1000  # pages of one list read at most (100,000 entries)


class ManagementError(EnSyncError):
    """A failed request: ``status`` is the HTTP status (0 when none came)."""

    default_type = "EnSyncManagementError"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Event:
    """A registered message name and its schema (``{}``: none)."""

    id: str
    name: str
    schema: dict[str, str]
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True, slots=True)
class AccessKey:
    id: str
    name: str
    type: str
    access_key: str = field(repr=False)
    created_at: str = ""
    send: tuple[str, ...] = ()
    receive: tuple[str, ...] = ()
    public_key: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key with its secrets, shown once: the access key and, for a SERVICE key,
    its 64-byte secret key (the SDKs' ``appSecretKey``)."""

    key: AccessKey
    secret_key: str | None = field(default=None, repr=False)


def api_url_for(url: str) -> str:
    """The management API of an engine URL: ``ws://h:p`` -> ``http://h:p/api/v1/ensync``
    (``wss`` -> ``https``; a URL that already names the API path is kept)."""
    text = url.strip().rstrip("/")
    if text.startswith("ws"):
        text = "http" + text[2:]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EnSyncValidationError(f"not an engine or API URL: {url!r}")
    if parts.path.endswith(API_PATH):
        return text
    return f"{parts.scheme}://{parts.netloc}{API_PATH}"


class ManagementClient:
    """Blocking calls to one management API with one account key."""

    def __init__(
        self,
        base_url: str,
        account_key: str,
        ca_file: str | None = None,
        insecure: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not account_key:
            raise EnSyncValidationError("the management API needs an account key")
        self.base_url = api_url_for(base_url)
        parts = urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = parts.path
        self._key = account_key
        self.timeout = timeout
        options = Options(ca_file=ca_file, insecure=insecure)
        self._ssl = ssl_context("wss:" if self._https else "ws:", options)

    def __repr__(self) -> str:  # never the account key
        return f"ManagementClient({self.base_url!r})"

    # ------------------------------------------------------------------ events

    def ping(self) -> bool:
        return self._call("GET", "/ping") == "pong"

    def events(self, name: str | None = None) -> list[Event]:
        """Every registered name (oldest first), or those whose name contains ``name``."""
        return [_event(e) for e in self._all("/event", "createdAt", {"name": name})]

    def event(self, name: str) -> Event:
        return _event(self._call("GET", "/event/" + quote(name, safe="")))

    def create_event(self, name: str, schema: dict[str, str] | None = None) -> Event:
        body: dict[str, Any] = {"name": name}
        if schema:
            body["payload"] = schema
        return _event(self._call("POST", "/event", body))

    def update_event(
        self, event_id: str, name: str | None = None, schema: dict[str, str] | None = None
    ) -> Event:
        body = {"name": name or "", "payload": schema or {}}
        return _event(self._call("PUT", "/event/" + quote(event_id, safe=""), body))

    # -------------------------------------------------------------------- keys

    def keys(self, name: str | None = None) -> list[AccessKey]:
        return [_key(k) for k in self._all("/access-key", "createdAt", {"name": name})]

    def create_key(
        self,
        name: str,
        kind: str = "SERVICE",
        send: list[str] | None = None,
        receive: list[str] | None = None,
    ) -> CreatedKey:
        body = {
            "type": kind,
            "name": name,
            "permissions": {"send": send or [], "receive": receive or []},
        }
        made = self._call("POST", "/access-key", body)
        if not isinstance(made, dict) or not isinstance(made.get("accessKey"), str):
            raise ManagementError("the answer holds no accessKey")
        pair = made.get("service_key_pair") or {}
        key = _key({**made, "key": made["accessKey"]})
        secret = pair.get("private_key") if isinstance(pair, dict) else None
        return CreatedKey(key, secret if isinstance(secret, str) else None)

    def delete_key(self, key_id: str) -> None:
        self._call("DELETE", "/access-key/" + quote(key_id, safe=""))

    def set_permissions(self, access_key: str, send: list[str], receive: list[str]) -> AccessKey:
        path = f"/access-key/{quote(access_key, safe='')}/permissions"
        return _key(self._call("POST", path, {"send": send, "receive": receive}))

    # ----------------------------------------------------------------- transport

    def _all(self, path: str, order_by: str, filters: dict[str, str | None]) -> Iterator[Any]:
        query = {k: v for k, v in filters.items() if v}
        for index in range(MAX_PAGES):
            params = {"pageIndex": index, "limit": PAGE, "order": "ASC", "orderBy": order_by}
            page = self._call("GET", f"{path}?{urlencode({**params, **query})}")
            results = page.get("results") if isinstance(page, dict) else None
            if not isinstance(results, list):
                raise ManagementError(f"GET {path}: the answer holds no results list")
            yield from results
            total = page.get("resultsLength")
            if len(results) < PAGE or (isinstance(total, int) and (index + 1) * PAGE >= total):
                return

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        headers = {"X-ACCESS-KEY": self._key, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        what = f"{method} {path.split('?')[0]}"
        try:
            connection.request(method, self._path + path, data, headers)
            answer = connection.getresponse()
            text = answer.read(MAX_ANSWER + 1)
        except ssl.SSLError as exc:
            raise ManagementError(f"{what}: TLS failed: {exc.reason or exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise ManagementError(f"{what}: cannot reach {self.base_url}: {exc}") from None
        finally:
            connection.close()
        if len(text) > MAX_ANSWER:
            raise ManagementError(f"{what}: the answer is over {MAX_ANSWER} bytes", answer.status)
        if answer.status >= 400:
            raise ManagementError(f"{what}: {_reason(answer.status, text)}", answer.status)
        if not text:
            return None
        if answer.getheader("content-type", "").startswith("text/plain"):
            return text.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            raise ManagementError(f"{what}: the answer is not JSON", answer.status) from None


def _reason(status: int, text: bytes) -> str:
    """The error's message, or its status, from what a server answered."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return f"{status} {body[key]}"
    snippet = text[:200].decode("utf-8", "replace").strip()
    return f"{status} {snippet}" if snippet else f"HTTP {status}"


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ManagementError(f"the answer's {what} is not text")
    return value


def _event(value: Any) -> Event:
    if not isinstance(value, dict):
        raise ManagementError("an event in the answer is not an object")
    schema = value.get("payload") or {}
    if not isinstance(schema, dict):
        raise ManagementError("an event's payload in the answer is not an object")
    return Event(
        _text(value.get("id"), "id"),
        _text(value.get("name"), "name"),
        {str(k): str(v) for k, v in schema.items()},
        str(value.get("createdAt") or ""),
        str(value.get("updatedAt") or ""),
    )


def _key(value: Any) -> AccessKey:
    if not isinstance(value, dict):
        raise ManagementError("a key in the answer is not an object")
    perms = value.get("permissions") or {}
    pair = value.get("service_key_pair") or {}
    public = pair.get("public_key") if isinstance(pair, dict) else None
    return AccessKey(
        _text(value.get("id"), "id"),
        _text(value.get("name"), "name"),
        _text(value.get("type"), "type"),
        _text(value.get("key"), "key"),
        str(value.get("createdAt") or ""),
        tuple(str(p) for p in perms.get("send") or ()) if isinstance(perms, dict) else (),
        tuple(str(p) for p in perms.get("receive") or ()) if isinstance(perms, dict) else (),
        public if isinstance(public, str) else None,
    )
