"""Bearer tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256, as the registry's own
token endpoint issues them and its resource endpoints check them.

The claims follow distribution's token spec (docs/spec/auth/jwt.md): ``iss``, ``sub`` (the
account; empty for anonymous), ``aud`` (the service), ``exp``, ``nbf``, ``iat``, ``jti`` and
``access``, the list of granted ``{"type", "name", "actions"}``. Issuer and checker are the
same process (or share the key file), so a symmetric key is enough; clients treat the token as
opaque.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.content.fs import os_errors
from dockyard.errors import InvalidArgument, Unauthorized
from dockyard.registry.access import Scope

_HEADER = {"alg": "HS256", "typ": "JWT"}
_LEEWAY = 60.0  # clock skew tolerated on nbf/exp


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token says: who it was issued to and what it allows."""

    account: str | None
    scopes: tuple[Scope, ...]
    expires_at: float

    def allows(self, scope: Scope) -> bool:
        held: set[str] = set()
        for granted in self.scopes:
            if granted.type == scope.type and granted.name == scope.name:
                held |= granted.actions
        return scope.actions <= held


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_in: int
    issued_at: float


class TokenAuthority:
    """Issues and verifies tokens for one service with one key."""

    def __init__(self, key: bytes, issuer: str, service: str, ttl: int = 300,
                 clock: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise InvalidArgument("token key too short: want at least 16 bytes")
        self._key = key
        self.issuer = issuer
        self.service = service
        self.ttl = ttl
        self._clock = clock

    def issue(self, account: str | None, scopes: Sequence[Scope]) -> Issued:
        now = self._clock()
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": int(now) + self.ttl,
            "nbf": int(now),
            "iat": int(now),
            "jti": secrets.token_hex(16),
            "access": [scope.to_json() for scope in scopes],
        }
        signing_input = f"{_b64(_json(_HEADER))}.{_b64(_json(claims))}"
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return Issued(f"{signing_input}.{_b64(signature)}", self.ttl, now)

    def verify(self, token: str) -> Grant:
        """The grant a token carries; Unauthorized if forged, malformed, expired or foreign."""
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthorized("invalid token: not a JSON web token")
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        try:
            header = json.loads(_unb64(parts[0]))
            signature = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error) as exc:
            raise Unauthorized("invalid token: undecodable") from exc
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise Unauthorized("invalid token: unsupported signing algorithm")
        if not hmac.compare_digest(signature, expected):
            raise Unauthorized("invalid token: bad signature")
        return self._grant(claims)

    def _grant(self, claims: object) -> Grant:
        if not isinstance(claims, dict):
            raise Unauthorized("invalid token: claims are not an object")
        now = self._clock()
        try:
            if claims["iss"] != self.issuer or claims["aud"] != self.service:
                raise Unauthorized("invalid token: issued for another service")
            expires, not_before = float(claims["exp"]), float(claims["nbf"])
            scopes = tuple(
                Scope(str(a["type"]), str(a["name"]), frozenset(str(x) for x in a["actions"]))
                for a in claims["access"]
            )
            account = str(claims["sub"]) or None
        except (KeyError, TypeError, ValueError) as exc:
            raise Unauthorized(f"invalid token: bad claims ({exc})") from exc
        if expires + _LEEWAY < now:
            raise Unauthorized("invalid token: expired")
        if not_before - _LEEWAY > now:
            raise Unauthorized("invalid token: not yet valid")
        return Grant(account, scopes, expires)


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; 32 random bytes written there (mode 0600) the first time."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    if key:
        return key
    with os_errors("create", path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as file:
            file.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # a concurrent first start keeps whichever key landed first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
