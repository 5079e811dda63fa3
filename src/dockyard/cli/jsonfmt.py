"""JSON output the way the docker CLI writes it: raw daemon JSON re-indented, and JSON messages.

``indent`` is Go's ``json.Indent``: it changes only white space, so keys keep the daemon's
order and strings keep its escapes (``\\u003c``), which a decode/encode round trip would lose.
``display_messages`` is jsonmessage.DisplayJSONMessagesStream for a non-terminal: a line per
status or stream text, progress bars dropped, the first ``error`` raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from dockyard.cli.session import StatusError


def indent(raw: str, prefix: str = "", step: str = "    ") -> str:
    out: list[str] = []
    depth = 0
    need_indent = False  # an opening bracket waits for its first value (so {} stays {})
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if need_indent and ch not in "]}":
            need_indent = False
            depth += 1
            out.append("\n" + prefix + step * depth)
        if ch == '"':
            j = i + 1
            while j < n and raw[j] != '"':
                j += 2 if raw[j] == "\\" else 1
            out.append(raw[i:j + 1])
            i = j + 1
            continue
        if ch in "{[":
            out.append(ch)
            need_indent = True
        elif ch == ",":
            out.append(",\n" + prefix + step * depth)
        elif ch == ":":
            out.append(": ")
        elif ch in "]}":
            if need_indent:
                need_indent = False  # empty: "{}" / "[]"
            else:
                depth -= 1
                out.append("\n" + prefix + step * depth)
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def display_messages(messages: Iterable[dict[str, Any]], out: TextIO) -> None:
    """Print a JSON message stream (pull, load, import) as docker does without a terminal."""
    for message in messages:
        error = message.get("errorDetail") or None
        if error or message.get("error"):
            text = (error or {}).get("message") or message.get("error") or "unknown error"
            code = (error or {}).get("code") or 1
            if code == 401:
                text = "authentication is required"
            raise StatusError(str(text), 1)
        if "aux" in message and message["aux"] is not None:
            continue
        progress = message.get("progressDetail") or {}
        if message.get("progress") or (progress and progress.get("total")):
            continue
        line = ""
        if message.get("id"):
            line += f"{message['id']}: "
        if message.get("from"):
            line += f"(from {message['from']}) "
        if message.get("stream"):
            out.write(line + str(message["stream"]))
        else:
            out.write(line + str(message.get("status", "")) + "\n")
    out.flush()
