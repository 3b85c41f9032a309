"""Connection profiles: CLI flags > ENSYNC_* env > ./ensync.toml > --config FILE > user config.

A profile file looks like::

    default_profile = "dev"

    [profiles.dev]
    url = "ws://127.0.0.1:8082"
    access_key = "..."
    app_secret_key = "..."
    subscribe = ["orders/created"]
    history = 50000

    [profiles.dev.contacts]
    billing = "<public key>"

    [keys]
    quit = "ctrl+q"

Every error names the file and the key, e.g.
``ensync.toml: profiles.dev.history: must be a positive integer``.
"""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensync_tui.errors import ConfigError
from ensync_tui.settings import DEFAULT_HISTORY, Settings

APP_NAME = "ensync-tui"
LOCAL_FILE = "ensync.toml"
ENV_URL = "ENSYNC_URL"
ENV_ACCESS_KEY = "ENSYNC_ACCESS_KEY"
ENV_SECRET = "ENSYNC_APP_SECRET_KEY"
ENV_PROFILE = "ENSYNC_PROFILE"
URL_SCHEMES = ("ws://", "wss://", "http://", "https://")

PROFILE_KEYS = (
    "url",
    "access_key",
    "app_secret_key",
    "subscribe",
    "ca_file",
    "insecure",
    "history",
    "auto_ack",
    "message_names",
    "contacts",
)
TOP_KEYS = ("default_profile", "profiles", "keys")
ENGINE_KEYS = ("engine", "clients", "messages")  # engine.toml, given where profiles go


def user_config_path() -> Path:
    """Where the user's profiles live (platformdirs' user config folder)."""
    import platformdirs

    return platformdirs.user_config_path(APP_NAME) / "config.toml"


# ------------------------------------------------------------------ validators


def check_url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string")
    value = value.strip()
    if not value.lower().startswith(URL_SCHEMES):
        raise ConfigError(f"{where}: must start with ws://, wss://, http:// or https://: {value!r}")
    return value


def _check_text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string")
    return value.strip()


def check_secret_key(value: Any, where: str) -> str:
    text = _check_text(value, where)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: must be base64 (an Ed25519 secret key)") from None
    if len(raw) not in (32, 64):
        raise ConfigError(f"{where}: must be a 64-byte Ed25519 secret key, got {len(raw)} bytes")
    return text


def check_public_key(value: Any, where: str) -> str:
    text = _check_text(value, where)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: must be a base64 public key") from None
    if len(raw) != 32:
        raise ConfigError(f"{where}: a public key is 32 bytes, got {len(raw)}")
    return text


def check_history(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: must be a positive integer")
    return value


def _check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false")
    return value


def _check_names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: must be a list of non-empty strings")
    return [v.strip() for v in value]


def _check_table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table")
    return value


# ------------------------------------------------------------------ files


@dataclass(slots=True)
class ConfigFile:
    """One parsed and validated profile file."""

    label: str
    path: Path
    default_profile: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # secrets
    keys: dict[str, str] = field(default_factory=dict)


def _validate_profile(raw: Any, where: str, base: Path) -> dict[str, Any]:
    table = _check_table(raw, where)
    out: dict[str, Any] = {}
    for key, value in table.items():
        at = f"{where}.{key}"
        if key == "url":
            out[key] = check_url(value, at)
        elif key == "access_key":
            out[key] = _check_text(value, at)
        elif key == "app_secret_key":
            out[key] = check_secret_key(value, at)
        elif key in ("subscribe", "message_names"):
            out[key] = _check_names(value, at)
        elif key == "ca_file":
            path = Path(_check_text(value, at)).expanduser()
            out[key] = str(path if path.is_absolute() else base / path)
        elif key in ("insecure", "auto_ack"):
            out[key] = _check_bool(value, at)
        elif key == "history":
            out[key] = check_history(value, at)
        elif key == "contacts":
            contacts = _check_table(value, at)
            out[key] = {name: check_public_key(pk, f"{at}.{name}") for name, pk in contacts.items()}
        else:
            raise ConfigError(f"{at}: unknown key (known: {', '.join(PROFILE_KEYS)})")
    return out


def parse_config(text: str, label: str, path: Path) -> ConfigFile:
    """Parse and validate the text of a profile file; errors start with ``label``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    result = ConfigFile(label=label, path=path)
    base = path.parent
    for key, value in data.items():
        if key == "default_profile":
            result.default_profile = _check_text(value, f"{label}: default_profile")
        elif key == "profiles":
            profiles = _check_table(value, f"{label}: profiles")
            for name, raw in profiles.items():
                result.profiles[name] = _validate_profile(raw, f"{label}: profiles.{name}", base)
        elif key == "keys":
            keys = _check_table(value, f"{label}: keys")
            result.keys = {k: _check_text(v, f"{label}: keys.{k}") for k, v in keys.items()}
        elif key in ENGINE_KEYS:
            raise ConfigError(
                f"{label}: {key}: this is an engine config (for `ensync-tui serve --config`); "
                "client profiles are in the ensync.toml `engine init` writes next to it"
            )
        else:
            raise ConfigError(f"{label}: {key}: unknown key (known: {', '.join(TOP_KEYS)})")
    return result


def load_file(path: Path, label: str | None = None) -> ConfigFile:
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from None
    return parse_config(text, label, path)


def config_files(extra: str | None = None, cwd: Path | None = None) -> list[ConfigFile]:
    """The files that exist, lowest precedence first: user config, --config, ./ensync.toml."""
    files: list[ConfigFile] = []
    user = user_config_path()
    if user.is_file():
        files.append(load_file(user))
    extra_path = Path(extra).expanduser() if extra else None
    if extra and extra_path:
        files.append(load_file(extra_path, extra))
    local = (cwd or Path.cwd()) / LOCAL_FILE
    if local.is_file() and not (extra_path and _same_file(extra_path, local)):
        files.append(load_file(local, LOCAL_FILE))
    return files


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# ------------------------------------------------------------------ resolving


@dataclass(slots=True)
class Overrides:
    """What the command line gave; None means "not given"."""

    url: str | None = None
    access_key: str | None = field(default=None, repr=False)  # secrets: never in a repr
    app_secret_key: str | None = field(default=None, repr=False)
    profile: str | None = None
    subscribe: list[str] | None = None
    ca_file: str | None = None
    insecure: bool | None = None
    history: int | None = None
    auto_ack: bool | None = None
    config: str | None = None


def _pick_profile(
    files: list[ConfigFile], wanted: str | None, source: str
) -> tuple[str | None, str]:
    known = sorted({name for f in files for name in f.profiles})
    if wanted:
        if wanted not in known:
            listed = ", ".join(known) if known else "none are defined"
            raise ConfigError(f"{source}: unknown profile {wanted!r} (known profiles: {listed})")
        return wanted, source
    for f in reversed(files):  # the highest-precedence file that names a default wins
        if f.default_profile:
            if f.default_profile not in known:
                listed = ", ".join(known) if known else "none are defined"
                raise ConfigError(
                    f"{f.label}: default_profile: unknown profile {f.default_profile!r} "
                    f"(known profiles: {listed})"
                )
            return f.default_profile, f"{f.label}: default_profile"
    if "default" in known:
        return "default", "the profile named default"
    if len(known) == 1:
        return known[0], "the only profile"
    return None, ""


def resolve(
    overrides: Overrides | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """The Settings for this run, merging every source by precedence."""
    o = overrides or Overrides()
    env = os.environ if env is None else env
    files = config_files(o.config, cwd)
    if o.profile:
        wanted, source = o.profile, "--profile"
    elif env.get(ENV_PROFILE, "").strip():
        wanted, source = env[ENV_PROFILE].strip(), ENV_PROFILE
    else:
        wanted, source = None, ""
    name, _ = _pick_profile(files, wanted, source)

    merged: dict[str, Any] = {}
    contacts: dict[str, str] = {}
    keys: dict[str, str] = {}
    for f in files:
        keys.update(f.keys)
        profile = f.profiles.get(name or "", {})
        contacts.update(profile.get("contacts", {}))
        merged.update({k: v for k, v in profile.items() if k != "contacts"})

    for var, key, check in (
        (ENV_URL, "url", check_url),
        (ENV_ACCESS_KEY, "access_key", _check_text),
        (ENV_SECRET, "app_secret_key", check_secret_key),
    ):
        value = env.get(var, "")
        if value.strip():
            merged[key] = check(value, var)

    if o.url is not None:
        merged["url"] = check_url(o.url, "--url")
    if o.access_key is not None:
        merged["access_key"] = _check_text(o.access_key, "--access-key")
    if o.app_secret_key is not None:
        merged["app_secret_key"] = check_secret_key(o.app_secret_key, "--app-secret-key")
    if o.subscribe:
        merged["subscribe"] = _check_names(o.subscribe, "--subscribe")
    if o.ca_file is not None:
        merged["ca_file"] = str(Path(_check_text(o.ca_file, "--ca-file")).expanduser())
    if o.insecure is not None:
        merged["insecure"] = o.insecure
    if o.history is not None:
        merged["history"] = check_history(o.history, "--history")
    if o.auto_ack is not None:
        merged["auto_ack"] = o.auto_ack

    ca_file = merged.get("ca_file")
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"ca_file: file not found: {ca_file}")
    subscribe = list(dict.fromkeys(merged.get("subscribe", [])))
    names = list(dict.fromkeys([*merged.get("message_names", []), *subscribe]))
    return Settings(
        url=merged.get("url"),
        access_key=merged.get("access_key"),
        app_secret_key=merged.get("app_secret_key"),
        profile=name,
        subscribe=subscribe,
        ca_file=ca_file,
        insecure=bool(merged.get("insecure", False)),
        history=int(merged.get("history", DEFAULT_HISTORY)),
        auto_ack=bool(merged.get("auto_ack", False)),
        contacts=contacts,
        message_names=names,
        keys=keys,
    )


def describe(settings: Settings) -> list[tuple[str, str]]:
    """The settings as (key, shown value) pairs with every secret redacted."""
    from ensync_tui.settings import redact

    rows = [
        ("profile", settings.profile or "(none)"),
        ("url", settings.url or "(not set)"),
        ("access_key", redact(settings.access_key)),
        ("app_secret_key", redact(settings.app_secret_key)),
        ("subscribe", ", ".join(settings.subscribe) or "(none)"),
        ("ca_file", settings.ca_file or "(none)"),
        ("insecure", str(settings.insecure).lower()),
        ("history", str(settings.history)),
        ("auto_ack", str(settings.auto_ack).lower()),
        ("message_names", ", ".join(settings.message_names) or "(none)"),
    ]
    rows += [(f"contacts.{n}", pk) for n, pk in sorted(settings.contacts.items())]
    rows += [(f"keys.{k}", v) for k, v in sorted(settings.keys.items())]
    return rows
