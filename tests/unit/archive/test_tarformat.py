"""The streaming tar reader and the deterministic tar writer, against Python's tarfile."""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.archive.compression import open_stream
from dockyard.archive.tarreader import (
    BLK,
    CHR,
    DIR,
    FIFO,
    LNK,
    REG,
    SYM,
    Entry,
    TarReader,
    parse_number,
    parse_pax,
    parse_pax_time,
)
from dockyard.archive.tarwriter import TarWriter, encode_header, pax_record
from dockyard.errors import DataCorrupt, Unsupported
from dockyard.oci.digest import Digest

S = 1_000_000_000


def member(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = 1_700_000_000
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def tar_of(members: list[tuple[tarfile.TarInfo, bytes | None]],
           fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def read_all(data: bytes) -> tuple[list[tuple[Entry, bytes]], TarReader]:
    reader = TarReader(open_stream(io.BytesIO(data)), "t")
    entries = []
    while (entry := reader.next()) is not None:
        content = b""
        if entry.type == REG:
            with tempfile.TemporaryFile() as sink:
                reader.copy_data(sink.fileno())
                sink.seek(0)
                content = sink.read()
        entries.append((entry, content))
    return entries, reader


def test_reads_every_type_in_every_format() -> None:
    long = "d/" + "x" * 150
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        data = tar_of([
            (member("d/", tarfile.DIRTYPE, mode=0o1755, uid=5, gid=6), None),
            (member(long, mode=0o4755), b"hello"),
            (member("d/sym", tarfile.SYMTYPE, linkname="../" + "t" * 120), None),
            (member("d/hard", tarfile.LNKTYPE, linkname=long), None),
            (member("d/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
            (member("d/loop", tarfile.BLKTYPE, devmajor=7, devminor=0), None),
            (member("d/fifo", tarfile.FIFOTYPE), None),
        ], fmt)
        entries, reader = read_all(data)
        t = 1_700_000_000 * S
        assert entries == [
            (Entry("d/", DIR, 0o1755, 5, 6, 0, t), b""),
            (Entry(long, REG, 0o4755, 0, 0, 5, t), b"hello"),
            (Entry("d/sym", SYM, 0o644, 0, 0, 0, t, "../" + "t" * 120), b""),
            (Entry("d/hard", LNK, 0o644, 0, 0, 0, t, long), b""),
            (Entry("d/null", CHR, 0o644, 0, 0, 0, t, "", 1, 3), b""),
            (Entry("d/loop", BLK, 0o644, 0, 0, 0, t, "", 7, 0), b""),
            (Entry("d/fifo", FIFO, 0o644, 0, 0, 0, t), b""),
        ]
        assert (reader.digest, reader.size) == (Digest.of(data), len(data))


def test_pax_fields_and_binary_xattrs() -> None:
    cap = b"\x01\x00\x00\x02\xff\xfe\x00\x00"
    info = member("f", uid=3_000_000, gid=9, mtime=1.25, pax_headers={
        "SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape"),
        "SCHILY.xattr.user.note": "été",
    })
    data = tar_of([(info, b"x"), (member("naïve/ünï"), b"")])
    entries, _ = read_all(data)
    assert [e for e, _ in entries] == [
        Entry("f", REG, 0o644, 3_000_000, 9, 1, 1_250_000_000,
              xattrs={"security.capability": cap, "user.note": "été".encode()}),
        Entry("naïve/ünï", REG, 0o644, 0, 0, 0, 1_700_000_000 * S),
    ]


def test_ustar_prefix_and_old_style_directory() -> None:
    name = "p" * 120 + "/file"
    data = tar_of([(member(name), b"ab")], tarfile.USTAR_FORMAT)
    entries, _ = read_all(data)
    assert entries[0][0].name == name
    # A pre-POSIX directory: a regular typeflag and a trailing slash.
    old = member("olddir/", tarfile.AREGTYPE)
    assert read_all(tar_of([(old, None)], tarfile.USTAR_FORMAT))[0][0][0].type == DIR


def test_header_only_types_carry_no_data() -> None:
    # A directory whose size field says 512: the next block is a header, as Go reads it.
    d = member("d/", tarfile.DIRTYPE)
    d.size = 512
    raw = d.tobuf(tarfile.USTAR_FORMAT) + member("f").tobuf(tarfile.USTAR_FORMAT) + bytes(1024)
    assert [e.name for e, _ in read_all(raw)[0]] == ["d/", "f"]


def test_digest_covers_bytes_after_the_end_marker() -> None:
    data = tar_of([(member("a"), b"1")]) + b"trailing junk"
    entries, reader = read_all(data)
    assert len(entries) == 1
    assert (reader.digest, reader.size) == (Digest.of(data), len(data))


def test_empty_stream_is_an_empty_layer() -> None:
    entries, reader = read_all(b"")
    assert (entries, reader.size, reader.digest) == ([], 0, Digest.of(b""))


@settings(max_examples=60)
@given(st.data())
def test_every_truncation_is_corrupt(data: st.DataObject) -> None:
    tar = tar_of([(member("a/" + "n" * 120), b"x" * 700), (member("b", tarfile.DIRTYPE), None)])
    with tarfile.open(fileobj=io.BytesIO(tar)) as parsed:
        last = parsed.getmembers()[-1]
    end = last.offset_data + -(-last.size // 512) * 512  # where the end marker starts
    cut = data.draw(st.integers(min_value=1, max_value=end))
    with pytest.raises(DataCorrupt, match="layer t: truncated tar"):
        read_all(tar[:cut])


def test_bad_checksum_is_corrupt() -> None:
    raw = bytearray(tar_of([(member("a"), b"1")]))
    raw[0] ^= 1
    with pytest.raises(DataCorrupt, match="layer t: corrupt tar header at offset 0"):
        read_all(bytes(raw))


def test_sparse_is_unsupported() -> None:
    raw = member("s", tarfile.GNUTYPE_SPARSE).tobuf(tarfile.GNU_FORMAT) + bytes(1024)
    with pytest.raises(Unsupported, match="entry 's' has unsupported tar type 'S'"):
        read_all(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"0000644\0", 0o644), (b"   12 \0\0", 0o12), (b"\0" * 8, 0), (b"", 0),
     (b"\x80\0\0\0\0\0\x01\x00", 256), (b"\xff" * 8, -1), (b"\xff" * 7 + b"\xfe", -2)],
)
def test_parse_number(raw: bytes, value: int) -> None:
    assert parse_number(raw) == value


@pytest.mark.parametrize(
    ("raw", "ns"),
    [(b"12", 12 * S), (b"1.5", 1_500_000_000), (b"-1.25", -1_250_000_000),
     (b"3.1234567891", 3_123_456_789)],
)
def test_parse_pax_time(raw: bytes, ns: int) -> None:
    assert parse_pax_time(raw) == ns


@given(st.dictionaries(st.text(min_size=1).filter(lambda k: "=" not in k),
                       st.binary(), max_size=5))
def test_pax_records_round_trip(records: dict[str, bytes]) -> None:
    data = b"".join(pax_record(k, v) for k, v in records.items())
    assert parse_pax(data) == records


names = st.text(st.sampled_from("ab/é.-_"), min_size=1, max_size=300).map(
    lambda s: s.strip("/").replace("//", "/")).filter(lambda s: s and ".." not in s)

entries = st.builds(
    Entry,
    name=names,
    type=st.sampled_from([REG, SYM, LNK, CHR, BLK, FIFO]),
    mode=st.integers(0, 0o7777),
    uid=st.integers(0, 1 << 40),
    gid=st.integers(0, 1 << 40),
    size=st.just(0),
    mtime_ns=st.integers(-(1 << 40), 1 << 40).map(lambda s: s * S),
    linkname=names | st.just(""),
    devmajor=st.integers(0, 4095),
    devminor=st.integers(0, (1 << 20) - 1),
    xattrs=st.dictionaries(st.sampled_from(["user.a", "user.bé", "security.capability"]),
                           st.binary(max_size=40), max_size=3),
)


@settings(max_examples=80)
@given(st.lists(entries, max_size=6), st.sampled_from(["none", "gzip", "zstd"]))
def test_written_entries_read_back(written: list[Entry], compression: str) -> None:
    out = io.BytesIO()
    writer = TarWriter(out, compression)  # type: ignore[arg-type]
    for entry in written:
        writer.add(entry)
    info = writer.close()
    blob = out.getvalue()
    assert (info.digest, info.size) == (Digest.of(blob), len(blob))
    read, reader = read_all(blob)
    assert [e for e, _ in read] == written
    assert reader.digest == info.diff_id
    # tarfile agrees on names, links, owners and xattrs.
    plain = open_stream(io.BytesIO(blob))
    tar_bytes = b"".join(iter(plain.read_chunk, b""))
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert [(m.name, m.linkname, m.uid, m.gid) for m in tar] == [
            (e.name, e.linkname, e.uid, e.gid) for e in written
        ]


def test_writer_output_is_deterministic_and_go_like() -> None:
    entry = Entry("etc/", DIR, 0o755, 0, 0, 0, 1_700_000_000_900_000_000)
    header = encode_header(entry)
    assert len(header) == 512
    assert header == encode_header(entry)
    info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
    assert (info.name, info.mtime, info.uname, info.gname, info.type) == (
        "etc", 1_700_000_000, "", "", tarfile.DIRTYPE
    )
    out = io.BytesIO()
    TarWriter(out).close()
    assert out.getvalue() == bytes(1024)
    assert hashlib.sha256(out.getvalue()).hexdigest() == Digest.of(bytes(1024)).encoded
