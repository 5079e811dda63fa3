"""HTTP/1.1 to registries: pooled keep-alive connections and dockerd's wording of failures.

A pull opens a few connections to one registry and keeps them: the manifest and config come
over one, each parallel blob download over its own. A connection goes back to the pool once its
response has been read to the end. A request on a kept connection that the server closed
meanwhile is retried once on a new connection (when its body can be sent again).

Failures to reach a registry read as the Go client words them, since that is what docker users
see (pull_errors.txt)::

    Get "http://127.0.0.1:5001/v2/": dial tcp 127.0.0.1:5001: connect: connection refused
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dockyard.errors import DockyardError

log = logging.getLogger(__name__)

USER_AGENT = "dockyard (registry client)"
BLOCK = 1 << 20  # bytes per socket write of a request body
_MAX_IDLE = 8


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a registry answers: scheme, ``host[:port]``, whether its TLS certificate is
    checked, and whether it is a pull-through mirror."""

    scheme: str
    host: str
    verify: bool = True
    mirror: bool = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


class RemoteError(DockyardError):
    """A registry could not be reached, or its answer could not be used. dockerd answers these
    with 500, so does dockyard."""

    http_status = 500


def go_method(method: str) -> str:
    """``GET`` -> ``Get``, as Go's url.Error names the operation."""
    return method[:1].upper() + method[1:].lower()


def transport_error(method: str, url: str, exc: BaseException) -> RemoteError:
    """A failed round trip, worded as Go's ``*url.Error``."""
    return RemoteError(f'{go_method(method)} "{url}": {_describe(url, exc)}')


def _describe(url: str, exc: BaseException) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = f"{parts.hostname}:{port}"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {address}: connect: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"dial tcp: lookup {parts.hostname}: no such host"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"dial tcp {address}: i/o timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"x509: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        if "WRONG_VERSION_NUMBER" in str(exc) or "RECORD_LAYER_FAILURE" in str(exc):
            return "http: server gave HTTP response to HTTPS client"
        return f"tls: {exc.reason or exc}".lower()
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
        return "EOF"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{address}: {errno.errorcode.get(exc.errno, '')} {exc.strerror or ''}".lower()
    return str(exc) or type(exc).__name__


Body = bytes | Iterable[bytes] | None


class Reply:
    """A response whose body is read once: whole (:meth:`read`) or piece by piece."""

    def __init__(self, method: str, url: str, response: http.client.HTTPResponse,
                 done: Any) -> None:
        self.method = method
        self.url = url
        self.status = response.status
        self.reason = response.reason
        self._response = response
        self._done = done
        self._headers = response.getheaders()
        self._closed = False

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self._headers:
            if key.lower() == lower:
                return value
        return None

    def headers(self, name: str) -> list[str]:
        lower = name.lower()
        return [value for key, value in self._headers if key.lower() == lower]

    @property
    def length(self) -> int | None:
        text = self.header("content-length")
        return int(text) if text is not None and text.isdigit() else None

    def read(self, limit: int | None = None) -> bytes:
        """The rest of the body (at most ``limit`` bytes are kept), then the connection goes
        back to the pool."""
        try:
            data = self._response.read() if limit is None else self._response.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            self.close(reuse=False)
            raise transport_error(self.method, self.url, exc) from exc
        self.close(reuse=limit is None)
        return data

    def read_chunk(self, size: int = BLOCK) -> bytes:
        """Up to ``size`` bytes of the body; b"" at its end (the connection is then released)."""
        try:
            data = self._response.read1(size) if size else b""
        except (OSError, http.client.HTTPException) as exc:
            self.close(reuse=False)
            raise transport_error(self.method, self.url, exc) from exc
        if not data:
            self.close(reuse=True)
        return data

    def close(self, reuse: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        ended = reuse and self._response.isclosed()
        if not ended:
            self._response.close()
        self._done(ended and not self._response.will_close)

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """Pooled connections to registries. Safe to share between threads."""

    def __init__(self, *, timeout: float = 60.0, user_agent: str = USER_AGENT) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        self._idle: dict[tuple[str, str, bool], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[bool, ssl.SSLContext] = {}

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None,
                body: Body = None, *, verify: bool = True) -> Reply:
        """Send one request; the reply's body is still to be read. RemoteError if the registry
        cannot be reached. ``body``: bytes, or chunks (sent chunked unless the headers give a
        Content-Length)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RemoteError(f"invalid registry url {url!r}")
        key = (parts.scheme, parts.netloc, verify)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}
        for attempt in range(2):
            conn, reused = self._take(key)
            try:
                self._send(conn, method, target, all_headers, body)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and attempt == 0 and not _consumed(body):
                    log.debug("kept connection to %s failed (%s); retrying", parts.netloc, exc)
                    continue
                raise transport_error(method, url, exc) from exc
            log.debug("%s %s -> %d", method, url, response.status)
            return Reply(method, url, response, lambda ok, c=conn: self._give(key, c, ok))
        raise RemoteError(f"{go_method(method)} {url!r}: no connection")  # not reached

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _send(self, conn: http.client.HTTPConnection, method: str, target: str,
              headers: dict[str, str], body: Body) -> None:
        if body is None or isinstance(body, bytes):
            conn.request(method, target, body=body, headers=headers)
            return
        chunked = not any(k.lower() == "content-length" for k in headers)
        conn.request(method, target, body=body, headers=headers, encode_chunked=chunked)

    def _take(self, key: tuple[str, str, bool]) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        scheme, netloc, verify = key
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self.timeout,
                                               context=self._context(verify),
                                               blocksize=BLOCK), False
        return http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=BLOCK), False

    def _give(self, key: tuple[str, str, bool], conn: http.client.HTTPConnection,
              reuse: bool) -> None:
        if not reuse:
            conn.close()
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def _context(self, verify: bool) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(verify)
            if context is None:
                if verify:
                    context = ssl.create_default_context()
                else:  # no CA certificates to load for a context that checks none
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self._contexts[verify] = context
            return context


def _consumed(body: Body) -> bool:
    """Whether sending ``body`` used it up (an iterator cannot be sent twice)."""
    return body is not None and not isinstance(body, bytes | list | tuple)
