"""The attached streams of ``run``, ``start -a``, ``attach`` and ``exec``, in one thread.

What the docker CLI's hijackedIOStreamer does with goroutines is done here with ``select``
(no threads, no asyncio, so ``dockyard run`` starts fast):

* output: with a tty the raw bytes go to stdout; without, the 8-byte frames are split to
  stdout and stderr (moby stdcopy; a frame of stream 3 is the daemon's error);
* input: stdin is copied to the connection and, at its end, the write side is shut
  (half-close) while output keeps flowing; with a tty and a terminal, stdin is put in raw mode
  (restored as soon as the output ends) and watched for the detach keys (ctrl-p,ctrl-q by
  default, moby term's escape proxy), which end the stream and leave the container running;
* signals: :class:`Signals` forwards what the CLI receives (sig-proxy:
  ``POST /containers/{id}/kill?signal=NAME``) and turns SIGWINCH into a resize, from the
  same loop, through ``signal.set_wakeup_fd``.
"""

from __future__ import annotations

import _socket
import os
import select

from dockyard.cli.session import StatusError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    import signal as _signal  # what _signal has, as the type checker knows it
    from collections.abc import Callable
    from typing import Any, BinaryIO
else:  # the C module: the signal module's enums cost a short command's start
    import _signal

DEFAULT_DETACH = b"\x10\x11"  # ctrl-p, ctrl-q
# the signals Go's signal.Notify(c) delivers that the docker CLI forwards (not CHLD, PIPE, URG)
PROXIED = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM",
           "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT", "SIGVTALRM", "SIGPROF", "SIGIO",
           "SIGPWR", "SIGSYS", "SIGXCPU", "SIGXFSZ", "SIGWINCH")
_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def detach_keys(text: str) -> bytes:
    """moby term.ToBytes: ``ctrl-p,ctrl-q``, ``a,b``; ValueError for anything else."""
    if not text:
        return DEFAULT_DETACH
    codes = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            codes.append(ord(key))
        elif key.lower().startswith("ctrl-") and len(key) == 6:
            ch = key[5].lower()
            if "a" <= ch <= "z":
                codes.append(ord(ch) - ord("a") + 1)
            elif ch in _CTRL:
                codes.append(_CTRL[ch])
            else:
                raise ValueError(f"Unknown character: '{key}'")
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(codes)


class Signals:
    """Signals caught while a stream runs: forwarded with ``forward(name)``; SIGWINCH also
    calls ``resize()``. Handlers only note the signal; the stream's loop acts on it."""

    def __init__(self, forward: Callable[[str], None] | None,
                 resize: Callable[[], None] | None = None) -> None:
        self.forward = forward
        self.resize = resize
        self.pending: list[int] = []
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._saved: dict[int, object] = {}
        self._names: dict[int, str] = {}  # number -> name (the signal module's enum costs)
        self._wakeup = -1

    @property
    def fd(self) -> int:
        return self._read

    def install(self) -> None:
        names = PROXIED if self.forward is not None else ("SIGWINCH",)
        for name in names:
            number = getattr(_signal, name, None)
            if number is not None:
                self._saved[number] = _signal.signal(number, self._note)
                self._names[number] = name
        self._wakeup = _signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def _note(self, number: int, frame: object) -> None:
        self.pending.append(number)

    def handle(self) -> None:
        """Act on the signals noted so far (called when the wakeup fd is readable)."""
        try:
            while os.read(self._read, 512):
                pass
        except BlockingIOError:
            pass
        pending, self.pending = self.pending, []
        for number in pending:
            if number == _signal.SIGWINCH and self.resize is not None:
                self.resize()
            if self.forward is not None:
                self.forward(self._names.get(number, str(number)).removeprefix("SIG"))

    def restore(self) -> None:
        if self._saved:
            _signal.set_wakeup_fd(self._wakeup)
            for number, handler in self._saved.items():
                _signal.signal(number, handler)  # type: ignore[arg-type]
            self._saved = {}
        for fd in (self._read, self._write):
            try:  # noqa: SIM105 - contextlib costs a millisecond at start
                os.close(fd)
            except OSError:
                pass
        self._read = self._write = -1


class _Frames:
    """moby stdcopy: 8-byte headers, payloads to stdout (0, 1) or stderr (2)."""

    def __init__(self, out: BinaryIO | None, err: BinaryIO | None) -> None:
        self.out = out
        self.err = err
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 8:
            size = int.from_bytes(self.buffer[4:8], "big")
            if len(self.buffer) < 8 + size:
                return
            kind, payload = self.buffer[0], self.buffer[8:8 + size]
            self.buffer = self.buffer[8 + size:]
            if kind == 3:
                raise StatusError("error from daemon in stream: "
                                  + payload.decode(errors="replace"))
            if kind not in (0, 1, 2):
                raise StatusError(f"Unrecognized input header: {kind}")
            target = self.err if kind == 2 else self.out
            if target is not None:
                target.write(payload)
                target.flush()


class Stream:
    """One hijacked connection and the CLI's streams; ``run()`` returns True on detach."""

    def __init__(self, sock: _socket.socket, first: bytes, *, tty: bool,
                 stdin: BinaryIO | None, out: BinaryIO | None, err: BinaryIO | None,
                 keys: bytes = DEFAULT_DETACH, signals: Signals | None = None) -> None:
        self.sock = sock
        self.first = first
        self.tty = tty
        self.stdin = stdin
        self.out = out
        self.err = err
        self.keys = keys
        self.signals = signals
        self._frames = _Frames(out, err)
        self._matched = 0
        self._raw: tuple[int, list[Any]] | None = None

    def run(self) -> bool:
        self._make_raw()
        try:
            self._output(self.first)
            return self._loop()
        finally:
            self._restore()

    def _stdin_fd(self) -> int | None:
        if self.stdin is None:
            return None
        try:
            return self.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def _make_raw(self) -> None:
        fd = self._stdin_fd()
        if not self.tty or fd is None or not os.isatty(fd):
            return
        import termios
        import tty

        self._raw = (fd, termios.tcgetattr(fd))
        tty.setraw(fd, termios.TCSANOW)

    def _restore(self) -> None:
        if self._raw is not None:
            import termios

            fd, saved = self._raw
            self._raw = None
            termios.tcsetattr(fd, termios.TCSANOW, saved)

    def _loop(self) -> bool:
        stdin_fd = self._stdin_fd()
        if self.stdin is not None and stdin_fd is None:  # an in-memory stdin: all at once
            self._send(self.stdin.read())
            self._half_close()
        watched = [self.sock.fileno()]
        if stdin_fd is not None:
            watched.append(stdin_fd)
        if self.signals is not None:
            watched.append(self.signals.fd)
        while True:
            ready, _, _ = select.select(watched, [], [])
            if self.signals is not None and self.signals.fd in ready:
                self.signals.handle()
            if stdin_fd is not None and stdin_fd in ready:
                outcome = self._input(stdin_fd)
                if outcome == "detach":
                    return True
                if outcome == "eof":
                    watched.remove(stdin_fd)
                    stdin_fd = None
                    if self.out is None and self.err is None:
                        return False
            if self.sock.fileno() in ready and not self._receive():
                return False

    def _receive(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self._restore()  # restore the terminal at once, before anything is printed
            return False
        self._output(data)
        return True

    def _output(self, data: bytes) -> None:
        if not data:
            return
        if self.tty:
            if self.out is not None:
                self.out.write(data)
                self.out.flush()
        else:
            self._frames.feed(data)

    def _input(self, fd: int) -> str:
        try:
            data = os.read(fd, 32768)
        except OSError:
            data = b""
        if not data:
            self._send(self.keys[:self._matched])
            self._half_close()
            return "eof"
        detached = False
        if self.tty:  # docker watches for the keys only with a tty (hijack.go setupInput)
            data, detached = self._escape(data)
        self._send(data)
        return "detach" if detached else "data"

    def _escape(self, data: bytes) -> tuple[bytes, bool]:
        """Hold back bytes that may start the detach keys; True once all of them came."""
        if not self.keys:
            return data, False
        sent = bytearray()
        for byte in data:
            if byte == self.keys[self._matched]:
                self._matched += 1
                if self._matched == len(self.keys):
                    return bytes(sent), True
                continue
            if self._matched:
                sent += self.keys[:self._matched]
                self._matched = 0
                if byte == self.keys[0]:
                    self._matched = 1
                    continue
            sent.append(byte)
        return bytes(sent), False

    def _send(self, data: bytes) -> None:
        if not data:
            return
        try:  # noqa: SIM105 - contextlib costs a millisecond at start
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the output side sees the end and finishes the stream

    def _half_close(self) -> None:
        try:  # noqa: SIM105 - contextlib costs a millisecond at start
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass


def terminal_size(stream: Any) -> tuple[int, int]:
    """(height, width) of the terminal behind ``stream``, (0, 0) if it is none."""
    try:
        fd = stream.fileno()
        if not os.isatty(fd):
            return 0, 0
        size = os.get_terminal_size(fd)
    except (AttributeError, OSError, ValueError):
        return 0, 0
    return size.lines, size.columns
