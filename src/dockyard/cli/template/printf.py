"""Go's ``fmt.Sprintf`` for the verbs templates use: %v %s %q %d %t %x %X %o %b %f %e %g %c %%.

Flags (``-+# 0``), width and precision behave as in Go for these verbs; a verb that does not
fit its operand prints Go's ``%!d(string=abc)``; missing operands print ``%!s(MISSING)``.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

_SPEC = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d+)?)?([a-zA-Z%])")


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028")


def _type_name(value: Any) -> str:
    from dockyard.cli.template.exec import _go_type

    return _go_type(value)


def _render(verb: str, flags: str, width: str, prec: str | None, value: Any) -> str:
    from dockyard.cli.template.exec import go_str

    spec = "%" + flags + width + ("." + prec if prec is not None else "")
    if verb in "vs":
        text = go_str(value)
        if prec is not None and prec != "":
            text = text[: int(prec)]
        return ("%" + flags.replace("0", "") + width + "s") % text
    if verb == "q":
        if isinstance(value, str):
            return ("%" + flags + width + "s") % _go_quote(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return ("%" + flags + width + "s") % ("'" + chr(value) + "'")
    if verb == "t" and isinstance(value, bool):
        return ("%" + flags + width + "s") % ("true" if value else "false")
    if verb in "dxXob" and isinstance(value, int) and not isinstance(value, bool):
        if verb == "b":
            return ("%" + flags + width + "s") % format(value, "b")
        return (spec + verb) % value
    if verb in "xX" and isinstance(value, str):
        hexed = value.encode().hex()
        return ("%" + flags + width + "s") % (hexed.upper() if verb == "X" else hexed)
    if verb in "feEgG" and isinstance(value, int | float) and not isinstance(value, bool):
        return (spec + verb) % value
    if verb == "c" and isinstance(value, int):
        return ("%" + flags + width + "s") % chr(value)
    return f"%!{verb}({_type_name(value)}={go_str(value)})"


def sprintf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    pos = 0
    index = 0
    for match in _SPEC.finditer(fmt):
        out.append(fmt[pos:match.start()])
        pos = match.end()
        flags, width, prec, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(args[index]) if index < len(args) else ""
            index += 1
        if prec == "*":
            prec = str(args[index]) if index < len(args) else ""
            index += 1
        if index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_render(verb, flags, width or "", prec, args[index]))
        index += 1
    out.append(fmt[pos:])
    if index < len(args):
        from dockyard.cli.template.exec import go_str

        extra = ", ".join(f"{_type_name(a)}={go_str(a)}" for a in args[index:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
