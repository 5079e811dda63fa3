"""The runtime's log output in runc's formats (``--log``, ``--log-format text|json``).

runc logs through logrus: ``time="2026-11-27T21:59:03Z" level=error msg="..."`` (text) or
``{"level":"error","msg":"...","time":"..."}`` (json), to the ``--log`` file or else to stderr;
an error is also printed bare on stderr when the log goes to a file. containerd reads the
last error from that file, so the formats matter.

Library modules log through ``logging``; importing it costs about 8 ms, so the one-shot
commands import it only with ``--debug``, when :meth:`LogSink.attach_logging` routes every
record to the sink.
"""

from __future__ import annotations

import os
import sys
import time

from dockyard.runtime.jsontext import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def _logrus_value(text: str) -> str:
    """logrus quotes a value unless every character is in its plain set."""
    if text and set(text) <= _PLAIN:
        return text
    return quote(text, html=False)


def format_line(level: str, message: str, log_format: str, moment: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
    if log_format == "json":
        return f'{{"level":{quote(level)},"msg":{quote(message)},"time":{quote(stamp)}}}\n'
    return f"time={_logrus_value(stamp)} level={level} msg={_logrus_value(message)}\n"


class LogSink:
    """Where the runtime's log lines go: the ``--log`` file (appended to) or stderr."""

    def __init__(self, path: str = "", log_format: str = "text", stderr: TextIO | None = None):
        if log_format not in ("text", "json", ""):
            raise ValueError(f"unknown log format {log_format!r}")
        self.path = path
        self.format = log_format or "text"
        self.stderr = stderr if stderr is not None else sys.stderr

    @property
    def to_stderr(self) -> bool:
        return not self.path or self.path in ("/dev/stderr", "/proc/self/fd/2")

    def write(self, level: str, message: str) -> None:
        line = format_line(level, message, self.format)
        if self.to_stderr:
            self.stderr.write(line)
            self.stderr.flush()
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def error(self, message: str) -> None:
        """runc's ``fatal``: log the error, and print it bare when the log is a file."""
        self.write("error", message)
        if not self.to_stderr:
            self.stderr.write(message + "\n")
            self.stderr.flush()

    def attach_logging(self) -> None:
        """Send ``logging`` records (level DEBUG and up) to this sink (``--debug``)."""
        import logging

        sink = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                level = {"WARNING": "warning", "CRITICAL": "fatal"}.get(
                    record.levelname, record.levelname.lower())
                sink.write(level, record.getMessage())

        root = logging.getLogger("dockyard")
        root.addHandler(Handler())
        root.setLevel(logging.DEBUG)


def debug(name: str, message: str, *args: object) -> None:
    """A debug line through ``logging`` if the program imported it; free otherwise."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(name).debug(message, *args)


def warning(name: str, message: str, *args: object) -> None:
    """A warning through ``logging`` if the program imported it, else on stderr as logging's
    last-resort handler would print it (also from a child stage, where imports may fail)."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(name).warning(message, *args)
    else:
        sys.stderr.write((message % args if args else message) + "\n")
