"""The few parts of the DNS wire format (RFC 1035 section 4) the embedded server needs.

It reads the header and first question of a query and writes replies that answer it with
A or PTR records, or carry only a response code. Everything else is forwarded untouched::

    header    u16 id | u16 flags (QR opcode AA TC RD RA Z rcode) | u16 qd an ns ar counts
    question  name (labels, maybe compressed) | u16 type | u16 class
    answer    name (pointer 0xC00C to the question) | type | class | u32 ttl | u16 len | data
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

TYPE_A, TYPE_PTR, TYPE_AAAA, TYPE_ANY = 1, 12, 28, 255
CLASS_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
OPCODE_QUERY = 0

_HEADER = struct.Struct("!HHHHHH")
_QR, _AA, _TC, _RD, _RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
_MAX_POINTERS = 16


class BadMessage(InvalidArgument):
    """A datagram that is not a DNS query we can read."""


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    flags: int
    name: str  # lower-case, no trailing dot
    type: int
    klass: int
    end: int  # offset just past the question in the message

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF


def _name(data: bytes, offset: int) -> tuple[str, int]:
    """A (maybe compressed) name at ``offset``: the dotted name and the offset after it."""
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if offset >= len(data):
            raise BadMessage("dns name runs past the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data) or jumps > _MAX_POINTERS:
                raise BadMessage("bad dns name pointer")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            continue
        if length & 0xC0:
            raise BadMessage("unknown dns label type")
        offset += 1
        if length == 0:
            break
        labels.append(data[offset:offset + length].decode("ascii", errors="replace"))
        offset += length
    return ".".join(labels).lower(), end if end >= 0 else offset


def parse_question(data: bytes) -> Question:
    """The header and first question of a query; BadMessage when unreadable."""
    if len(data) < _HEADER.size:
        raise BadMessage("dns message shorter than its header")
    ident, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(data)
    if flags & _QR:
        raise BadMessage("dns message is a response")
    if qdcount < 1:
        raise BadMessage("dns query without a question")
    name, offset = _name(data, _HEADER.size)
    if offset + 4 > len(data):
        raise BadMessage("dns question cut short")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return Question(ident, flags, name, qtype, qclass, offset + 4)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if label else b""
        if not raw or len(raw) > 63:
            raise InvalidArgument(f"invalid dns name {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def question_bytes(name: str, qtype: int) -> bytes:
    return encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def query(ident: int, name: str, qtype: int = TYPE_A) -> bytes:
    """A recursive query (for tests and clients)."""
    return _HEADER.pack(ident, _RD, 1, 0, 0, 0) + question_bytes(name, qtype)


def _reply(data: bytes, q: Question, rcode: int, answers: Sequence[bytes],
           authoritative: bool) -> bytes:
    flags = _QR | _RA | (q.flags & (_RD | 0x7800)) | rcode
    if authoritative:
        flags |= _AA
    header = _HEADER.pack(q.id, flags, 1, len(answers), 0, 0)
    return header + data[_HEADER.size:q.end] + b"".join(answers)


def answer_a(data: bytes, q: Question, addresses: Sequence[ipaddress.IPv4Address],
             ttl: int = 600) -> bytes:
    """NOERROR with one A record per address (none for a name without such records)."""
    records = [struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, ttl, 4) + a.packed
               for a in addresses]
    return _reply(data, q, NOERROR, records, True)


def answer_ptr(data: bytes, q: Question, target: str, ttl: int = 600) -> bytes:
    rdata = encode_name(target)
    record = struct.pack("!HHHIH", 0xC00C, TYPE_PTR, CLASS_IN, ttl, len(rdata)) + rdata
    return _reply(data, q, NOERROR, [record], True)


def error(data: bytes, q: Question, rcode: int) -> bytes:
    return _reply(data, q, rcode, [], False)


def reverse_name(ip: ipaddress.IPv4Address) -> str:
    return ".".join(reversed(str(ip).split("."))) + ".in-addr.arpa"


def parse_a_answers(data: bytes) -> list[ipaddress.IPv4Address]:
    """The A records of a reply (tests and health checks)."""
    _id, _flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(data)
    offset = _HEADER.size
    for _ in range(qdcount):
        offset = _name(data, offset)[1] + 4
    found = []
    for _ in range(ancount):
        offset = _name(data, offset)[1]
        rtype, _klass, _ttl, length = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        if rtype == TYPE_A and length == 4:
            found.append(ipaddress.IPv4Address(data[offset:offset + 4]))
        offset += length
    return found


def rcode_of(data: bytes) -> int:
    return int(_HEADER.unpack_from(data)[1]) & 0xF
