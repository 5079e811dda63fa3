"""Registry credentials of the CLI, kept in docker's ``config.json`` format.

The file is dockyard's own, so ``dockyard login`` never touches docker's credentials::

    $DOCKYARD_CONFIG/config.json     or, without that variable,
    ~/.dockyard/config.json

    {"auths": {"127.0.0.1:5000": {"auth": "<base64 of user:password>"},
               "https://index.docker.io/v1/": {"auth": "...", "identitytoken": "..."}}}

Keys are what docker writes: the registry's ``host[:port]``, and Docker Hub's index URL for
``docker.io``. Other keys of the file (docker's ``credsStore``, ``HttpHeaders``...) are kept
as they are. The file is written atomically, mode 0600. The daemon gets the credentials of one
registry in ``X-Registry-Auth``: base64url of ``{"username","password","serveraddress"}``.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

DOCKER_HUB = "https://index.docker.io/v1/"
ANONYMOUS_HEADER = "e30="  # base64 of {}, what docker sends without credentials
_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB,
              "https://index.docker.io/v1", "https://registry-1.docker.io")


def config_path(environ: dict[str, str]) -> Path:
    directory = environ.get("DOCKYARD_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    home = environ.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".dockyard" / "config.json"


def server_key(address: str) -> str:
    """The ``auths`` key of a registry: Docker Hub's index URL, else ``host[:port]``."""
    address = address.strip()
    if not address or address in _HUB_NAMES:
        return DOCKER_HUB
    for prefix in ("https://", "http://"):
        address = address.removeprefix(prefix)
    return address.split("/", 1)[0]


class CredentialStore:
    """The ``auths`` of one config file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgument(f"cannot read {self.path}: not a json object")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent="\t")
            out.write("\n")
        os.replace(temp, self.path)

    def get(self, server: str) -> dict[str, str]:
        """The stored AuthConfig of ``server`` (empty if none): username, password,
        identitytoken, serveraddress."""
        key = server_key(server)
        auths = self._read().get("auths") or {}
        entry = auths.get(key)
        if entry is None:
            entry = next((v for k, v in auths.items() if server_key(k) == key), None)
        if not isinstance(entry, dict):
            return {}
        out = {"serveraddress": key}
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            user, _, password = base64.b64decode(encoded).decode("utf-8", "replace") \
                .partition(":")
            out.update(username=user, password=password)
        if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
            out["identitytoken"] = entry["identitytoken"]
            out.pop("password", None)
        return out

    def store(self, server: str, username: str, password: str, identity_token: str = "") -> None:
        data = self._read()
        auths = data.setdefault("auths", {})
        secret = "" if identity_token else password
        entry: dict[str, str] = {"auth": base64.b64encode(f"{username}:{secret}".encode())
                                 .decode()}
        if identity_token:
            entry["identitytoken"] = identity_token
        auths[server_key(server)] = entry
        self._write(data)

    def erase(self, server: str) -> bool:
        """Forget ``server``; False if nothing was stored for it."""
        data = self._read()
        auths = data.get("auths") or {}
        key = server_key(server)
        found = [k for k in auths if server_key(k) == key]
        for k in found:
            del auths[k]
        if found:
            self._write(data)
        return bool(found)


def registry_auth_header(auth: dict[str, str]) -> str:
    """The ``X-Registry-Auth`` value for an AuthConfig (``e30=`` when empty)."""
    if not auth:
        return ANONYMOUS_HEADER
    return base64.urlsafe_b64encode(json.dumps(auth, separators=(",", ":")).encode()).decode()
