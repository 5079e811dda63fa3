"""JSON message streams (pull, push) shown as the docker CLI shows them (moby ``jsonmessage``).

On a terminal every layer keeps one line, rewritten in place with cursor movements as its
status changes, and a progress bar is drawn from ``progressDetail`` for the terminal's width::

    861808351cd1: Downloading [=====>              ]  1.2MB/3.001MB

Without a terminal, a line is printed per status and messages carrying a progress bar are left
out, so the output of a pull is the lines of pull_layers.txt. The first ``error`` in the
stream ends the display: :class:`StatusError` with its text (exit status 1).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import Any, TextIO

from dockyard.cli.session import StatusError
from dockyard.cli.units import human_size


def bar(detail: dict[str, Any], width: int) -> str:
    """moby ``JSONProgress.String`` for a terminal ``width`` columns wide."""
    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    box = f"[{'=' * percentage}>{' ' * (50 - percentage)}] " if width > 110 else ""
    numbers = f"{human_size(current):>8}/{human_size(total)}"
    if current > total:
        numbers = f"{human_size(current):>8}"
    return box + numbers


def _error(message: dict[str, Any]) -> StatusError | None:
    detail = message.get("errorDetail") or {}
    text = detail.get("message") if isinstance(detail, dict) else None
    text = text or message.get("error")
    if not text:
        return None
    if isinstance(detail, dict) and detail.get("code") == 401:
        text = "authentication is required"
    return StatusError(str(text), 1)


def display(messages: Iterable[dict[str, Any]], out: TextIO, *, terminal: bool,
            width: int | None = None) -> list[dict[str, Any]]:
    """Show the stream; returns the ``aux`` values it carried (push's digest)."""
    columns = width or (shutil.get_terminal_size((200, 24)).columns if terminal else 200)
    lines: dict[str, int] = {}
    auxes: list[dict[str, Any]] = []
    for message in messages:
        error = _error(message)
        if error is not None:
            raise error
        if isinstance(message.get("aux"), dict):
            auxes.append(message["aux"])
            continue
        layer = message.get("id") or ""
        has_progress = isinstance(message.get("progressDetail"), dict) or \
            bool(message.get("progress"))
        up = 0
        if layer and has_progress:
            if layer not in lines:
                lines[layer] = len(lines)
                if terminal:
                    out.write("\n")
            up = len(lines) - lines[layer]
            if terminal:
                out.write(f"\x1b[{up}A")
        else:
            lines = {}
        _show(message, out, terminal, columns)
        if layer and terminal and up:
            out.write(f"\x1b[{up}B")
        out.flush()
    return auxes


def _show(message: dict[str, Any], out: TextIO, terminal: bool, columns: int) -> None:
    detail = message.get("progressDetail")
    rendered = bar(detail, columns) if isinstance(detail, dict) else ""
    end = ""
    if terminal and not message.get("stream") and isinstance(detail, dict):
        out.write("\x1b[2K\r")
        end = "\r"
    elif rendered:
        return  # no progress bars without a terminal
    text = f"{message['id']}: " if message.get("id") else ""
    if message.get("from"):
        text += f"(from {message['from']}) "
    status = str(message.get("status", ""))
    if isinstance(detail, dict) and terminal:
        out.write(f"{text}{status} {rendered}{end}")
    elif message.get("progress"):
        out.write(f"{text}{status} {message['progress']}{end}")
    elif message.get("stream"):
        out.write(f"{text}{message['stream']}{end}")
    else:
        out.write(f"{text}{status}{end}\n")
