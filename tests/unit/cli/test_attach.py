"""The single-threaded streamer of run/attach/exec over a socketpair (no daemon): frames split
anywhere, raw tty bytes, stdin forwarded then half-closed, detach keys held back and matched,
and the daemon's error frame."""

from __future__ import annotations

import io
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.cli.attach import DEFAULT_DETACH, Stream, _Frames, detach_keys
from dockyard.cli.session import StatusError


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=40)), max_size=8),
       st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_frames_split_anywhere_give_the_same_streams(parts: list[tuple[int, bytes]],
                                                     cuts: list[int]) -> None:
    data = b"".join(frame(k, p) for k, p in parts)
    out, err = io.BytesIO(), io.BytesIO()
    frames = _Frames(out, err)
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        frames.feed(data[start:cut])
        start = cut
    assert out.getvalue() == b"".join(p for k, p in parts if k == 1)
    assert err.getvalue() == b"".join(p for k, p in parts if k == 2)


def test_an_error_frame_ends_the_stream_with_its_text() -> None:
    with pytest.raises(StatusError, match="error from daemon in stream: boom"):
        _Frames(io.BytesIO(), io.BytesIO()).feed(frame(3, b"boom"))


def test_detach_keys_parse_as_moby_term() -> None:
    assert detach_keys("") == DEFAULT_DETACH == b"\x10\x11"
    assert detach_keys("ctrl-a,x,ctrl-@,ctrl-[") == b"\x01x\x00\x1b"
    with pytest.raises(ValueError, match="Unknown character: 'ctrl-1'"):
        detach_keys("ctrl-1")
    with pytest.raises(ValueError, match="Unknown character: 'abc'"):
        detach_keys("abc")


def _serve(peer: socket.socket, replies: bytes, received: list[bytes]) -> None:
    """The daemon's side: send the output, read stdin until the half-close, then close."""
    peer.sendall(replies)
    data = b""
    while chunk := peer.recv(4096):
        data += chunk
    received.append(data)
    peer.close()


def test_stdin_is_sent_then_half_closed_while_output_still_flows() -> None:
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    server = threading.Thread(target=_serve, args=(theirs, frame(1, b"hi\n"), received))
    server.start()
    out, err = io.BytesIO(), io.BytesIO()
    detached = Stream(ours, frame(2, b"early\n"), tty=False, stdin=io.BytesIO(b"input"),
                      out=out, err=err).run()
    server.join(5)
    ours.close()
    assert (detached, out.getvalue(), err.getvalue(), received) == (
        False, b"hi\n", b"early\n", [b"input"])


def test_tty_stdin_detach_keys_are_matched_and_held_back() -> None:
    read, write = socket.socketpair()
    ours, theirs = socket.socketpair()
    try:
        stream = Stream(ours, b"", tty=True, stdin=read.makefile("rb"), out=io.BytesIO(),
                        err=None, keys=b"\x10\x11")
        write.sendall(b"ab\x10c\x10\x11tail")
        assert stream.run() is True
        theirs.settimeout(1)
        assert theirs.recv(100) == b"ab\x10c"
    finally:
        for s in (read, write, ours, theirs):
            s.close()
