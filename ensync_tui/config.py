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

    theme = "nord"

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensync_tui.errors import ConfigError
from ensync_tui.settings import Settings, Spec, redact, schema, spec_of

APP_NAME = "ensync-tui"
LOCAL_FILE = "ensync.toml"
URL_SCHEMES = ("ws://", "wss://", "http://", "https://")
TOP_KEYS = ("default_profile", "profiles", "theme", "keys")
ENGINE_KEYS = ("engine", "clients", "messages", "accounts")  # engine.toml, given where profiles go


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


def _check_path(value: Any, where: str, base: Path | None = None) -> str:
    """A file name: ~ expanded; relative to ``base`` (the profile file's folder) if given."""
    path = Path(_check_text(value, where)).expanduser()
    return str(path if base is None or path.is_absolute() else base / path)


def _check_contacts(value: Any, where: str) -> dict[str, str]:
    contacts = _check_table(value, where)
    return {name: check_public_key(pk, f"{where}.{name}") for name, pk in contacts.items()}


def _check_keys(value: Any, where: str) -> dict[str, str]:
    keys = _check_table(value, where)
    return {k: _check_text(v, f"{where}.{k}") for k, v in keys.items()}


CHECKS: dict[str, Callable[[Any, str], Any]] = {  # a kind -> check(value, where) -> value
    "url": check_url,
    "text": _check_text,
    "secret_key": check_secret_key,
    "names": _check_names,
    "path": _check_path,
    "bool": _check_bool,
    "count": check_history,
    "contacts": _check_contacts,
    "table": _check_keys,
}
PROFILE_KEYS = tuple(f.name for f, spec in schema() if spec.profile_key)


def check(spec: Spec, value: Any, where: str, base: Path | None = None) -> Any:
    """``value`` checked as ``spec`` says (ConfigError naming ``where`` if it is wrong)."""
    if spec.kind == "path":
        return _check_path(value, where, base)
    return CHECKS[spec.kind](value, where)


# ------------------------------------------------------------------ files


@dataclass(slots=True)
class ConfigFile:
    """One parsed and validated profile file."""

    label: str
    path: Path
    default_profile: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # secrets
    keys: dict[str, str] = field(default_factory=dict)
    theme: str | None = None


def _validate_profile(raw: Any, where: str, base: Path) -> dict[str, Any]:
    table = _check_table(raw, where)
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in PROFILE_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(PROFILE_KEYS)})")
        out[key] = check(spec_of(key), value, f"{where}.{key}", base)
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
            result.keys = _check_keys(value, f"{label}: keys")
        elif key == "theme":
            result.theme = _check_text(value, f"{label}: theme")
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


class Overrides:
    """What the command line gave: settings that have a flag, by name (None: not
    given), and ``config``, the extra profile file of --config."""

    __slots__ = ("config", "given")

    def __init__(self, config: str | None = None, **given: Any) -> None:
        flags = {f.name for f, spec in schema() if spec.flag}
        unknown = sorted(set(given) - flags)
        if unknown:
            raise TypeError(f"Overrides: not a setting with a flag: {', '.join(unknown)}")
        self.config = config
        self.given = {k: v for k, v in given.items() if v is not None}

    def __repr__(self) -> str:  # secrets: never in a repr
        shown = [f"config={self.config!r}"] + [
            f"{k}={'…' if spec_of(k).secret else repr(v)}" for k, v in self.given.items()
        ]
        return f"Overrides({', '.join(shown)})"


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
    profile = spec_of("profile")
    if o.given.get("profile"):
        wanted, source = o.given["profile"], profile.flag
    elif env.get(profile.env, "").strip():
        wanted, source = env[profile.env].strip(), profile.env
    else:
        wanted, source = None, ""
    name, _ = _pick_profile(files, wanted, source)

    merged: dict[str, Any] = {"contacts": {}, "keys": {}}
    for f in files:
        merged["keys"].update(f.keys)
        if f.theme:
            merged["theme"] = f.theme
        for key, value in f.profiles.get(name or "", {}).items():
            if isinstance(value, dict):  # tables merge key by key
                merged[key].update(value)
            else:
                merged[key] = value
    settable = [(f.name, spec) for f, spec in schema() if spec.profile_key]
    for key, spec in settable:  # the environment over the files
        value = env.get(spec.env, "") if spec.env else ""
        if value.strip():
            merged[key] = check(spec, value, spec.env)
    for key, spec in settable:  # flags over all
        value = o.given.get(key)
        if value is not None and value != []:
            merged[key] = check(spec, value, spec.flag)

    ca_file = merged.get("ca_file")
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"ca_file: file not found: {ca_file}")
    merged["subscribe"] = list(dict.fromkeys(merged.get("subscribe", [])))
    merged["message_names"] = list(
        dict.fromkeys([*merged.get("message_names", []), *merged["subscribe"]])
    )
    return Settings(profile=name, **merged)


def describe(settings: Settings) -> list[tuple[str, str]]:
    """The settings as (key, shown value) pairs with every secret redacted;
    tables flattened (``contacts.NAME``, ``keys.ID``)."""
    rows: list[tuple[str, str]] = []
    for f, spec in schema():
        value = getattr(settings, f.name)
        if isinstance(value, dict):
            rows += [(f"{f.name}.{k}", v) for k, v in sorted(value.items())]
        elif spec.secret:
            rows.append((f.name, redact(value)))
        elif isinstance(value, bool):
            rows.append((f.name, str(value).lower()))
        elif isinstance(value, list):
            rows.append((f.name, ", ".join(value) or spec.unset))
        else:
            rows.append((f.name, spec.unset if value is None else str(value)))
    return rows


def describe_json(settings: Settings) -> dict[str, Any]:
    """The settings with JSON types (null when unset), secrets redacted; tables
    flattened as in :func:`describe`."""
    shown: dict[str, Any] = {}
    for f, spec in schema():
        value = getattr(settings, f.name)
        if isinstance(value, dict):
            shown.update({f"{f.name}.{k}": v for k, v in sorted(value.items())})
        elif spec.secret:
            shown[f.name] = redact(value) if value else None
        else:
            shown[f.name] = list(value) if isinstance(value, list) else value
    return shown
