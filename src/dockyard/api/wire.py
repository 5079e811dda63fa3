"""HTTP/1.1 on the wire: request heads, body framing, response heads (RFC 9112).

Only what an Engine API server needs: origin-form (and absolute-form) targets, Content-Length and
chunked request bodies, keep-alive. Anything ambiguous is refused with 400 rather than guessed at
(both Content-Length and Transfer-Encoding, differing Content-Lengths, obsolete line folding,
whitespace before a header's colon), as request smuggling starts with lenient parsers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

MAX_HEAD = 1 << 20  # Go's http.DefaultMaxHeaderBytes
MAX_CHUNK_LINE = 4096

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/1\.([01])")


class ProtocolError(Exception):
    """The client broke HTTP/1.1; answered with ``status`` and a plain-text reason, then closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    target: str
    minor: int  # 1 for HTTP/1.1, 0 for HTTP/1.0
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.minor == 0:
            return "keep-alive" in tokens
        return "close" not in tokens

    @property
    def chunked(self) -> bool:
        return "transfer-encoding" in self.headers

    @property
    def content_length(self) -> int:
        """The body length for a Content-Length body (0 when there is no body at all)."""
        return int(self.headers.get("content-length", "0"))

    @property
    def expects_continue(self) -> bool:
        return self.minor == 1 and self.headers.get("expect", "").lower() == "100-continue"

    def split_target(self) -> tuple[str, dict[str, list[str]]]:
        """The percent-decoded path and the parsed query (``+`` is a space, blanks kept)."""
        target = self.target
        if not target.startswith("/"):  # absolute-form: http://host/path?query
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            target = rest[slash:] if slash >= 0 else "/"
        raw_path, _, raw_query = target.partition("?")
        raw_query = raw_query.partition("#")[0]
        query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
        return unquote(raw_path), query


def parse_head(data: bytes) -> RequestHead:
    """Parse a request line and header fields, ``data`` ending with the blank line."""
    lines = data.split(b"\r\n")
    if len(lines) < 3 or lines[-1] != b"" or lines[-2] != b"":
        raise ProtocolError(400, "malformed request head")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise ProtocolError(400, "malformed request line")
    version = _VERSION.fullmatch(parts[2])
    if version is None:
        if parts[2].startswith(b"HTTP/"):
            raise ProtocolError(505, "http version not supported")
        raise ProtocolError(400, "malformed request line")
    target = parts[1].decode("latin-1")
    if not (target.startswith("/") or target.startswith(("http://", "https://"))):
        raise ProtocolError(400, f"unsupported request target {target!r}")
    headers = _parse_fields(lines[1:-2])
    _check_framing(headers)
    return RequestHead(parts[0].decode("ascii"), target, int(version.group(1)), headers)


def _parse_fields(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            # also catches obs-fold (a line starting with whitespace) and "Name :"
            raise ProtocolError(400, "malformed header field")
        if b"\n" in value or b"\r" in value or b"\0" in value:
            raise ProtocolError(400, "malformed header field")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _check_framing(headers: dict[str, str]) -> None:
    encoding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if encoding is not None:
        if length is not None:
            raise ProtocolError(400, "both transfer-encoding and content-length")
        if encoding.strip().lower() != "chunked":
            raise ProtocolError(501, f"unsupported transfer-encoding {encoding!r}")
    elif length is not None:
        values = {v.strip() for v in length.split(",")}
        if len(values) != 1:
            raise ProtocolError(400, "conflicting content-length values")
        value = values.pop()
        if not value.isdigit() or not value.isascii() or len(value) > 18:
            raise ProtocolError(400, f"bad content-length {value!r}")
        headers["content-length"] = value


def parse_chunk_size(line: bytes) -> int:
    """The size in a chunk-size line (``1a;ext=v\\r\\n``); extensions are ignored."""
    size = line.rstrip(b"\r\n").split(b";", 1)[0].strip(b" \t")
    if not size or len(size) > 15 or not re.fullmatch(rb"[0-9a-fA-F]+", size):
        raise ProtocolError(400, "malformed chunk size")
    return int(size, 16)


def reason(status: int) -> str:
    if status == 101:
        return "UPGRADED"  # dockerd's hijack status line
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class DateCache:
    """The ``Date`` header value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = formatdate(second, usegmt=True)
        return self._value


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
