"""Attached runs: the attach, wait and start dance of ``run`` and ``start -a``, the streams of
``attach`` and ``exec``, and the exit status each of them ends with.

Connections, as the docker CLI opens them: the session's keep-alive connection for JSON calls
(create, start, resize, kill, exec inspect), one hijacked connection for the streams and one
for ``/wait``, whose headers arrive before ``/start`` is sent (engine-api.md section 4).
"""

from __future__ import annotations

import select

from dockyard.cli.attach import Signals, Stream, detach_keys, terminal_size
from dockyard.cli.session import Session, StatusError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any, BinaryIO

ESCAPED = "read escape sequence"  # attach and exec end so after a detach (moby term)


class _TextBinary:
    """A binary writer over a text stream (tests hand the session StringIO streams)."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text

    def write(self, data: bytes) -> int:
        self.text.write(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self.text.flush()


def binary_err(session: Session) -> BinaryIO:
    buffer = getattr(session.err, "buffer", None)
    return buffer if buffer is not None else _TextBinary(session.err)  # type: ignore[return-value]


def keys_of(text: str) -> bytes:
    """The detach keys; an invalid sequence falls back to the default, as docker warns."""
    try:
        return detach_keys(text)
    except ValueError:
        return detach_keys("")


def _resizer(session: Session, path: str) -> Callable[[], None]:
    def resize() -> None:
        height, width = terminal_size(session.stdout_binary)
        if height or width:
            try:  # noqa: SIM105 - contextlib costs a millisecond at start
                session.client().call("POST", path, {"h": str(height), "w": str(width)})
            except Exception:
                pass

    return resize


class Attached:
    """A container's streams, attached before it starts (``run``, ``start -a``) or after
    (``attach``)."""

    def __init__(self, session: Session, container_id: str, *, tty: bool,
                 stdin: bool, stdout: bool, stderr: bool, keys: str, proxy: bool) -> None:
        self.session = session
        self.id = container_id
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.keys = keys
        self.signals = Signals(self._kill if proxy else None,
                               _resizer(session, f"/containers/{container_id}/resize"))

    def _kill(self, name: str) -> None:
        try:  # noqa: SIM105 - contextlib costs a millisecond at start
            self.session.client().call("POST", f"/containers/{self.id}/kill", {"signal": name})
        except Exception:
            pass

    def _hijack(self) -> tuple[Any, bytes]:
        from dockyard.client.hijack import hijack

        query: dict[str, str | list[str]] = {"stream": "1"}
        for name in ("stdin", "stdout", "stderr"):
            if getattr(self, name):
                query[name] = "1"
        if self.keys:
            query["detachKeys"] = self.keys
        return hijack(self.session.client(), f"/containers/{self.id}/attach", query)

    def stream(self, sock: Any, first: bytes) -> bool:
        session = self.session
        session.out.flush()
        err = session.stdout_binary if self.tty else binary_err(session)
        stream = Stream(sock, first, tty=self.tty,
                        stdin=session.stdin if self.stdin else None,
                        out=session.stdout_binary if self.stdout else None,
                        err=err if self.stderr else None, keys=keys_of(self.keys),
                        signals=self.signals)
        try:
            return stream.run()
        finally:
            sock.close()

    def run(self, auto_remove: bool, start: Callable[[], None]) -> int:
        """Attach, wait, start, stream; the container's exit status (0 after a detach)."""
        from dockyard.client.hijack import Waiter

        self.signals.install()
        try:
            sock, first = self._hijack()
            try:
                waiter = Waiter(self.session.client(), self.id,
                                "removed" if auto_remove else "next-exit")
                try:
                    start()
                except BaseException:
                    if auto_remove:
                        self._wait(waiter)
                    waiter.close()
                    raise
            except BaseException:
                sock.close()
                raise
            if self.tty and self.session.out_is_terminal():
                assert self.signals.resize is not None
                self.signals.resize()
            if self.stream(sock, first):
                waiter.close()
                return 0
            return exit_status(self._wait(waiter))
        finally:
            self.signals.restore()

    def _wait(self, waiter: Any) -> tuple[int, str]:
        """The /wait answer; signals that come meanwhile are still forwarded."""
        while True:
            ready, _, _ = select.select([waiter.sock, self.signals.fd], [], [])
            if self.signals.fd in ready:
                self.signals.handle()
            if waiter.sock in ready:
                return waiter.result()  # type: ignore[no-any-return]


def exit_status(result: tuple[int, str]) -> int:
    status, error = result
    if error:
        raise StatusError(f"ERRO[0000] Error waiting for container: {error}", 125)
    if status:
        raise StatusError("", status)
    return 0


def check_state(info: dict[str, Any]) -> None:
    """inspectContainerAndCheckState: attach only to a running container."""
    state = info.get("State") or {}
    if not state.get("Running"):
        raise StatusError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise StatusError("You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise StatusError("You cannot attach to a restarting container, wait until it is "
                          "running")


def attach(session: Session, name: str, no_stdin: bool, keys: str, proxy: bool) -> int:
    """``attach``: wait (not-running), inspect, attach, stream, the exit status."""
    from dockyard.client.hijack import Waiter

    waiter = Waiter(session.client(), name, "")
    try:
        info = session.client().get(f"/containers/{name}/json")
        check_state(info)
        config = info.get("Config") or {}
        tty = bool(config.get("Tty"))
        if not no_stdin and tty and not session.in_is_terminal():
            raise StatusError("the input device is not a TTY")
        attached = Attached(session, str(info["Id"]), tty=tty,
                            stdin=not no_stdin and bool(config.get("OpenStdin")), stdout=True,
                            stderr=True, keys=keys, proxy=proxy and not tty)
        attached.signals.install()
        try:
            sock, first = attached._hijack()
            if tty and session.out_is_terminal():
                _nudge(session, attached.id)
            if attached.stream(sock, first):
                raise StatusError(ESCAPED)
            return exit_status(attached._wait(waiter))
        finally:
            attached.signals.restore()
    finally:
        waiter.close()


def _nudge(session: Session, container_id: str) -> None:
    """Resize to one more row and column, then to the real size, so the shell redraws."""
    height, width = terminal_size(session.stdout_binary)
    path = f"/containers/{container_id}/resize"
    try:  # noqa: SIM105 - contextlib costs a millisecond at start
        session.client().call("POST", path, {"h": str(height + 1), "w": str(width + 1)})
    except Exception:
        pass
    _resizer(session, path)()


def exec_attached(session: Session, exec_id: str, tty: bool, stdin: bool, keys: str) -> int:
    """``exec`` without -d: start attached, stream, then the exec's exit code."""
    from dockyard.client.hijack import hijack

    signals = Signals(None, _resizer(session, f"/exec/{exec_id}/resize"))
    signals.install()
    try:
        sock, first = hijack(session.client(), f"/exec/{exec_id}/start",
                             body={"Detach": False, "Tty": tty})
        if tty and session.in_is_terminal():
            assert signals.resize is not None
            signals.resize()
        session.out.flush()
        err = session.stdout_binary if tty else binary_err(session)
        stream = Stream(sock, first, tty=tty, stdin=session.stdin if stdin else None,
                        out=session.stdout_binary, err=err, keys=keys_of(keys),
                        signals=signals)
        try:
            if stream.run():
                raise StatusError(ESCAPED)
        finally:
            sock.close()
    finally:
        signals.restore()
    info = session.client().get(f"/exec/{exec_id}/json")
    code = int(info.get("ExitCode") or 0)
    if code:
        raise StatusError("", code)
    return 0
