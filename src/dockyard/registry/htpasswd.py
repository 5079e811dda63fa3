"""Apache htpasswd files with bcrypt hashes, as distribution's htpasswd auth reads them.

One ``user:hash`` per line; blank lines and ``#`` comments are skipped. Only bcrypt hashes
(``$2a$``, ``$2b$``, ``$2y$``: what ``htpasswd -B`` writes) are accepted; a line with another
scheme is ignored with a warning, so such a user cannot log in. The file is re-read when its
mtime or size changes.

bcrypt is slow on purpose (tens of milliseconds a check), and a client sends its credentials
with every request, so a successful check is remembered for a while, keyed by the user, a
sha256 of the password and the stored hash (a changed password invalidates it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dockyard.errors import NotFound, Unsupported

log = logging.getLogger(__name__)

_BCRYPT = ("$2a$", "$2b$", "$2y$")
_REMEMBER = 300.0


class Htpasswd:
    """Credentials of one htpasswd file. Safe to share between threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._users: dict[str, bytes] = {}
        self._stamp: tuple[int, int] | None = None
        self._verified: dict[tuple[str, bytes, bytes], float] = {}
        self._lock = threading.Lock()
        self._load()

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s. Blocks for a bcrypt check (call from a thread)."""
        self._load()
        stored = self._users.get(user)
        if stored is None:
            return False
        key = (user, hashlib.sha256(password.encode()).digest(), stored)
        with self._lock:
            until = self._verified.get(key)
        if until is not None and until > self._clock():
            return True
        if not _checkpw(password.encode(), stored):
            return False
        with self._lock:
            self._verified[key] = self._clock() + _REMEMBER
        return True

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise NotFound(f"htpasswd file {self.path} not found") from exc
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        users: dict[str, bytes] = {}
        for number, raw in enumerate(self.path.read_text().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                log.warning("%s:%d: not user:hash; ignored", self.path, number)
            elif not hashed.startswith(_BCRYPT):
                log.warning("%s:%d: user %s has no bcrypt hash (htpasswd -B); ignored",
                            self.path, number, user)
            else:
                users[user] = hashed.encode()
        with self._lock:
            self._users, self._stamp, self._verified = users, stamp, {}


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        import bcrypt
    except ImportError as exc:
        raise Unsupported("htpasswd authentication needs the bcrypt package "
                          "(pip install bcrypt)") from exc
    if hashed.startswith(b"$2y$"):  # the same algorithm; some bcrypt builds only know $2b$
        hashed = b"$2b$" + hashed[4:]
    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:
        return False


def hash_password(password: str, rounds: int = 10) -> str:
    """A bcrypt hash for an htpasswd line (``$2y$``, as ``htpasswd -B`` writes)."""
    try:
        import bcrypt
    except ImportError as exc:
        raise Unsupported("hashing a password needs the bcrypt package") from exc
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()
    return "$2y$" + hashed[4:]
