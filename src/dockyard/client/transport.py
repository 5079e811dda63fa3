"""A small HTTP/1.1 client over a unix or TCP socket, enough for the Engine API.

Why not ``http.client``: importing it pulls in ``email`` and ``ssl`` (about 20 ms), which is most
of what ``dockyard version`` would spend before its first byte. The Engine API needs little of
HTTP: one request at a time per connection, bodies framed by Content-Length or chunked encoding
(RFC 9112 section 7.1), responses that may stream for minutes (pull, load) and request bodies
that are streamed chunked from a file (load, import), as the Go client sends them.

The response reader is a plain buffered file over the socket; a body is read by its framing so
the connection stays usable for the next request (keep-alive).
"""

from __future__ import annotations

import _socket
import io

from dockyard.errors import DataCorrupt, InvalidArgument, Unavailable

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import IO, Any

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
UPLOAD_CHUNK = 64 * 1024
_MAX_LINE = 64 * 1024


class Address:
    """Where the daemon listens: a unix socket path, or a TCP host and port.

    ``url`` is normalised (``unix:///run/x.sock``, ``tcp://h:2375``).
    """

    __slots__ = ("host", "path", "port", "url")

    def __init__(self, url: str, path: str = "", host: str = "", port: int = 0) -> None:
        self.url = url
        self.path = path
        self.host = host
        self.port = port


    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``unix:///path``, ``tcp://host:port`` (port 2375 by default) or ``/path``."""
        if text.startswith("/"):
            text = "unix://" + text
        scheme, sep, rest = text.partition("://")
        if not sep:
            raise InvalidArgument(f"invalid host {text!r}: expected unix:///path or tcp://host:port")
        if scheme == "unix":
            if not rest:
                return cls.parse(DEFAULT_HOST)
            return cls(url=text, path=rest)
        if scheme in ("tcp", "http"):
            hostport = rest.rstrip("/")
            host, colon, port = hostport.rpartition(":")
            if not colon or "]" in port:
                host, port = hostport, "2375"
            host = host.strip("[]") or "127.0.0.1"
            if not port.isdigit():
                raise InvalidArgument(f"invalid host {text!r}: bad port {port!r}")
            return cls(url=f"tcp://{hostport}", host=host, port=int(port))
        raise InvalidArgument(f"invalid host {text!r}: unsupported scheme {scheme!r}")


class Response:
    """One HTTP response; read its body exactly once with read(), chunks() or lines()."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], reader: io.BufferedReader,
                 has_body: bool) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._reader = reader
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._remaining: int | None = None
        if length is not None and not self._chunked:
            self._remaining = int(length)
        if not has_body:
            self._remaining = 0
        self.done = self._remaining == 0 and not self._chunked
        self.reusable = headers.get("connection", "").lower() != "close" and (
            self._chunked or self._remaining is not None
        )

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives (chunk by chunk, or in reads of up to 64 KiB)."""
        if self.done:
            return
        if self._chunked:
            yield from self._chunked_body()
        elif self._remaining is not None:
            while self._remaining > 0:
                data = self._reader.read1(min(self._remaining, UPLOAD_CHUNK))
                if not data:
                    raise DataCorrupt("response body ended early: connection closed by the daemon")
                self._remaining -= len(data)
                yield data
        else:
            while data := self._reader.read1(UPLOAD_CHUNK):
                yield data
        self.done = True

    def _chunked_body(self) -> Iterator[bytes]:
        while True:
            line = self._reader.readline(_MAX_LINE)
            if not line.endswith(b"\n"):
                raise DataCorrupt("chunked response ended early: connection closed by the daemon")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise DataCorrupt(f"bad chunk size {size_text!r} in response") from exc
            if size == 0:
                while self._reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            data = self._reader.read(size)
            if len(data) != size:
                raise DataCorrupt("chunked response ended early: connection closed by the daemon")
            self._reader.readline(_MAX_LINE)
            yield data

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def lines(self) -> Iterator[bytes]:
        """The body split on newlines (JSON-lines streams); a last unterminated line too."""
        pending = b""
        for chunk in self.chunks():
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                if line.strip():
                    yield line
        if pending.strip():
            yield pending


class SocketReader(io.RawIOBase):
    """A socket's receiving side as a raw stream (``socket.makefile("rb")`` without the socket
    module, whose import, with enum's, costs a short command about 2 ms)."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)


class Connection:
    """A keep-alive HTTP/1.1 connection to the daemon, opened on first use."""

    def __init__(self, address: Address, timeout: float | None = None) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: _socket.socket | None = None
        self._reader: io.BufferedReader | None = None
        self._last: Response | None = None

    def _connect(self) -> None:
        addr = self.address
        try:
            if addr.path:
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(addr.path)
                except OSError:
                    sock.close()
                    raise
            else:
                import socket  # the module (and enum) only for TCP: a unix socket needs neither

                sock = socket.create_connection((addr.host, addr.port), timeout=self.timeout)
        except OSError as exc:
            raise Unavailable(
                f"Cannot connect to the dockyard daemon at {addr.url}. "
                "Is the dockyard daemon running?"
            ) from exc
        self._sock = sock
        self._reader = io.BufferedReader(SocketReader(sock))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = self._last = None

    def request(self, method: str, target: str, headers: Mapping[str, str],
                body: bytes | IO[bytes] | None = None) -> Response:
        """Send a request and read the response head. A file body is sent chunked."""
        if self._last is not None and not (self._last.done and self._last.reusable):
            self.close()
        if self._sock is None:
            self._connect()
        assert self._sock is not None and self._reader is not None
        head = [f"{method} {target} HTTP/1.1", "Host: api.moby.localhost"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if isinstance(body, bytes | bytearray):
            head.append(f"Content-Length: {len(body)}")
        elif body is not None:
            head.append("Transfer-Encoding: chunked")
        elif method in ("POST", "PUT"):
            head.append("Content-Length: 0")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        try:
            if isinstance(body, bytes | bytearray):
                self._sock.sendall(data + body)
            else:
                self._sock.sendall(data)
                if body is not None:
                    self._send_chunked(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered early (an error) and closed; read that answer below
        except OSError as exc:
            self.close()
            raise Unavailable(f"sending {method} {target} to {self.address.url}: {exc}") from exc
        response = self._read_head(method)
        self._last = response
        return response

    def _send_chunked(self, body: IO[bytes]) -> None:
        assert self._sock is not None
        while block := body.read(UPLOAD_CHUNK):
            self._sock.sendall(b"%x\r\n%b\r\n" % (len(block), block))
        self._sock.sendall(b"0\r\n\r\n")

    def _read_head(self, method: str) -> Response:
        assert self._reader is not None
        try:
            status_line = self._reader.readline(_MAX_LINE)
            while status_line in (b"\r\n", b"\n"):
                status_line = self._reader.readline(_MAX_LINE)
            if not status_line:
                raise Unavailable(f"the daemon at {self.address.url} closed the connection")
            parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise DataCorrupt(f"bad HTTP status line {status_line[:80]!r} from the daemon")
            headers: dict[str, str] = {}
            while (line := self._reader.readline(_MAX_LINE)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
        except TimeoutError as exc:
            self.close()
            raise Unavailable(f"timed out waiting for the daemon at {self.address.url}") from exc
        except OSError as exc:
            self.close()
            raise Unavailable(f"reading from the daemon at {self.address.url}: {exc}") from exc
        status = int(parts[1])
        has_body = method != "HEAD" and status not in (204, 304) and not 100 <= status < 200
        return Response(status, parts[2] if len(parts) > 2 else "", headers, self._reader, has_body)
