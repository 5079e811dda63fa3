"""The registry's settings, from a TOML or JSON file, overridden by command-line flags.

A file (``--config``; ``.json`` is read as JSON, anything else as TOML)::

    root = "/var/lib/dockyard-registry"
    addr = "127.0.0.1:5000"
    read_only = false
    delete = true                   # allow DELETE of manifests, tags and blob links
    max_upload_size = "2GiB"        # one blob; 413 SIZE_INVALID beyond
    max_manifest_size = "4MiB"

    [tls]
    cert = "cert.pem"               # relative paths are relative to the file
    key = "key.pem"

    [auth]
    mode = "token"                  # none, basic, token (default: basic with htpasswd, else none)
    htpasswd = "htpasswd"           # bcrypt lines, as htpasswd -B writes them
    realm = "https://host:5000/token"   # default: this server's /token, from the Host header
    service = "dockyard-registry"
    token_ttl = 300

    [[auth.access]]                 # none at all: every authenticated account may do anything
    account = "alice"               # an account, "*" (any authenticated), "anonymous"
    repository = "alice/*"          # fnmatch glob over repository names
    actions = ["pull", "push"]      # pull, push, delete, or "*"
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.registry.access import ACTIONS, ANY_ACCOUNT, Rule
from dockyard.registry.context import DEFAULT_MAX_MANIFEST

MODES = ("none", "basic", "token")
_SIZE = re.compile(r"([0-9]+)\s*([KMGT]i?B?|B)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40}


@dataclass(frozen=True, slots=True)
class AuthConfig:
    mode: str = "none"
    htpasswd: Path | None = None
    realm: str | None = None
    service: str = "dockyard-registry"
    issuer: str = "dockyard-registry"
    token_key: Path | None = None
    token_ttl: int = 300
    access: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    root: Path
    host: str = "127.0.0.1"
    port: int = 5000
    read_only: bool = False
    delete_enabled: bool = False
    max_upload_size: int | None = None
    max_manifest_size: int = DEFAULT_MAX_MANIFEST
    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth: AuthConfig = field(default_factory=AuthConfig)
    upload_idle: float = 300.0


def load_file(path: Path) -> dict[str, Any]:
    """The settings of a config file, with relative paths made relative to its directory."""
    try:
        text = path.read_bytes()
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text.decode())
    except FileNotFoundError as exc:
        raise InvalidArgument(f"config file {path} not found") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid config file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"invalid config file {path}: not a table")
    data["_base"] = str(path.parent)
    return data


def build(data: Mapping[str, Any]) -> Config:
    """A Config from file settings merged with flags (same shape); InvalidArgument if wrong."""
    base = Path(str(data.get("_base", ".")))
    _check_keys(data, {"_base", "root", "addr", "read_only", "delete", "max_upload_size",
                       "max_manifest_size", "tls", "auth", "upload_idle"}, "")
    if not data.get("root"):
        raise InvalidArgument("registry root not set: give --root or root in the config file")
    host, port = parse_addr(str(data.get("addr", "127.0.0.1:5000")))
    tls = _table(data, "tls")
    _check_keys(tls, {"cert", "key"}, "tls.")
    if bool(tls.get("cert")) != bool(tls.get("key")):
        raise InvalidArgument("tls needs both a certificate and a key")
    upload = data.get("max_upload_size")
    return Config(
        root=_path(base, data["root"]),
        host=host,
        port=port,
        read_only=_bool(data, "read_only"),
        delete_enabled=_bool(data, "delete"),
        max_upload_size=None if upload in (None, 0, "") else parse_size(upload),
        max_manifest_size=parse_size(data.get("max_manifest_size", DEFAULT_MAX_MANIFEST)),
        tls_cert=_path(base, tls["cert"]) if tls.get("cert") else None,
        tls_key=_path(base, tls["key"]) if tls.get("key") else None,
        auth=_auth(base, _table(data, "auth")),
        upload_idle=float(data.get("upload_idle", 300.0)),
    )


def _auth(base: Path, table: Mapping[str, Any]) -> AuthConfig:
    _check_keys(table, {"mode", "htpasswd", "realm", "service", "issuer", "token_key",
                        "token_ttl", "access"}, "auth.")
    htpasswd = _path(base, table["htpasswd"]) if table.get("htpasswd") else None
    mode = str(table.get("mode") or ("basic" if htpasswd else "none"))
    if mode not in MODES:
        raise InvalidArgument(f"invalid auth mode {mode!r}: want one of {', '.join(MODES)}")
    if mode == "basic" and htpasswd is None:
        raise InvalidArgument("basic auth needs an htpasswd file")
    rules = tuple(_rule(entry) for entry in table.get("access", ()))
    if mode != "none" and not rules:
        rules = (Rule(ANY_ACCOUNT, "*", ACTIONS),)
    return AuthConfig(
        mode=mode,
        htpasswd=htpasswd,
        realm=str(table["realm"]) if table.get("realm") else None,
        service=str(table.get("service", "dockyard-registry")),
        issuer=str(table.get("issuer", "dockyard-registry")),
        token_key=_path(base, table["token_key"]) if table.get("token_key") else None,
        token_ttl=int(table.get("token_ttl", 300)),
        access=rules,
    )


def _rule(entry: Any) -> Rule:
    if isinstance(entry, str):
        return Rule.parse(entry)
    if not isinstance(entry, dict):
        raise InvalidArgument(f"invalid access rule {entry!r}: want a table")
    _check_keys(entry, {"account", "repository", "actions"}, "auth.access.")
    actions = entry.get("actions", [])
    if isinstance(actions, str):
        actions = actions.split(",")
    return Rule(str(entry.get("account", "")), str(entry.get("repository", "")),
                frozenset(str(a).strip() for a in actions))


def parse_addr(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InvalidArgument(f"invalid address {text!r}: want host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def parse_size(value: object) -> int:
    """Bytes from an int or a text like ``512MiB``, ``2G``, ``1048576``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = _SIZE.fullmatch(str(value).strip())
    if found is None:
        raise InvalidArgument(f"invalid size {value!r}: want bytes or a number with KiB, MiB, "
                              "GiB, K, M, G")
    unit = (found[2] or "").lower().removesuffix("b")
    return int(found[1]) * _UNITS[unit]


def _check_keys(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise InvalidArgument(f"unknown config setting {prefix}{unknown[0]}")


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid config setting {key}: want a table")
    return value


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InvalidArgument(f"invalid config setting {key}: want true or false")
    return value


def _path(base: Path, value: object) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path
