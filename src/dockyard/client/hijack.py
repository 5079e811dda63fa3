"""Hijacked connections: attach and exec start take over their HTTP connection (101).

As the Go client does (moby client/hijack.go): a fresh connection, the request with
``Connection: Upgrade`` and ``Upgrade: tcp``, and then the socket carries raw bytes both ways.
The head is read byte-exactly (no buffered reader keeps stream bytes back); whatever arrived
after the head is returned beside the socket. A status other than 101 is the daemon's error.

Also here: the 8-byte frames of a stream without a tty (``[stream,0,0,0,size BE]`` + payload)
and a tiny waiter for ``/wait``, whose headers must arrive before ``/start`` is sent.
"""

from __future__ import annotations

import _socket

from dockyard.client import wirejson
from dockyard.client.engine import USER_AGENT, Client, daemon_error, encode_query
from dockyard.errors import DataCorrupt, Unavailable

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

_MAX_HEAD = 64 * 1024


def connect(client: Client) -> _socket.socket:
    """A new connection to the client's daemon (each stream needs its own)."""
    address = client.address
    try:
        if address.path:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                sock.connect(address.path)
            except OSError:
                sock.close()
                raise
            return sock
        import socket  # the module (and enum) only for TCP

        return socket.create_connection((address.host, address.port))
    except OSError as exc:
        raise Unavailable(f"Cannot connect to the dockyard daemon at {address.url}. "
                          "Is the dockyard daemon running?") from exc


def send(sock: _socket.socket, client: Client, method: str, path: str, *,
         query: Mapping[str, str | list[str]] | None = None, body: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> None:
    target = f"/v{client.api_version}{path}{encode_query(query)}"
    lines = [f"{method} {target} HTTP/1.1", "Host: api.moby.localhost",
             f"User-Agent: {USER_AGENT}", f"Content-Length: {len(body or b'')}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))


def read_head(sock: _socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the bytes that followed the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise Unavailable("the daemon closed the connection before answering")
        data += chunk
        if len(data) > _MAX_HEAD:
            raise DataCorrupt("response head from the daemon is too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise DataCorrupt(f"bad HTTP status line {lines[0][:80]!r} from the daemon")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, rest


def read_body(sock: _socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
    """A whole (small) body after the head: Content-Length, chunked, or until close."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return b"".join(chunked(sock, rest))
    length = headers.get("content-length")
    data = rest
    while length is None or len(data) < int(length):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data if length is None else data[:int(length)]


def chunked(sock: _socket.socket, rest: bytes) -> Iterator[bytes]:
    """The chunks of a chunked body as they arrive."""
    buffer = rest
    while True:
        while b"\r\n" not in buffer:
            more = sock.recv(65536)
            if not more:
                return
            buffer += more
        size_line, _, buffer = buffer.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        while len(buffer) < size + 2:
            more = sock.recv(65536)
            if not more:
                yield buffer[:size]
                return
            buffer += more
        yield buffer[:size]
        buffer = buffer[size + 2:]


def hijack(client: Client, path: str, query: Mapping[str, str | list[str]] | None = None,
           body: object = None) -> tuple[_socket.socket, bytes]:
    """POST ``path`` asking for an upgrade; the raw socket and the first stream bytes."""
    sock = connect(client)
    try:
        payload = wirejson.dumps(body).encode() if body is not None else b""
        headers = {"Connection": "Upgrade", "Upgrade": "tcp",
                   "Content-Type": "application/json" if body is not None else "text/plain"}
        send(sock, client, "POST", path, query=query, body=payload, headers=headers)
        status, answer, rest = read_head(sock)
        if status != 101:
            error = daemon_error(status, read_body(sock, answer, rest))
            raise error
    except BaseException:
        sock.close()
        raise
    return sock, rest


class Waiter:
    """``POST /containers/{id}/wait``: sent (and its headers read) before ``/start``."""

    def __init__(self, client: Client, container: str, condition: str) -> None:
        self.sock = connect(client)
        try:
            query = {"condition": condition} if condition else None
            send(self.sock, client, "POST", f"/containers/{container}/wait", query=query)
            self.status, self.headers, self._rest = read_head(self.sock)
            if self.status >= 400:
                raise daemon_error(self.status, read_body(self.sock, self.headers, self._rest))
        except BaseException:
            self.sock.close()
            raise

    def result(self) -> tuple[int, str]:
        """The exit status and the daemon's error message ("" if none)."""
        try:
            raw = read_body(self.sock, self.headers, self._rest)
        finally:
            self.sock.close()
        try:
            answer = wirejson.loads(raw)
        except ValueError as exc:
            raise Unavailable("the wait for the container ended without a status") from exc
        error = answer.get("Error") or {}
        return int(answer.get("StatusCode", -1)), str(error.get("Message") or "")

    def close(self) -> None:
        self.sock.close()
