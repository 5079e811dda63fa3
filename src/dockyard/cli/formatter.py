"""``--format`` rendering as the docker CLI's formatter.Context does it.

A format is ``table`` (the command's default columns), ``table TEMPLATE``, ``json`` (one
``{{json .}}`` line per row) or a bare TEMPLATE. ``\\t`` and ``\\n`` written literally on the
command line become a tab and a newline. Each row renders to one line; a table also renders
the template once over the header names (``{{.ID}}`` -> ``IMAGE ID``) and aligns everything
with the tabwriter (minwidth 10, padding 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.cli.session import StatusError
from dockyard.cli.tabwriter import TabWriter, display_width
from dockyard.cli.template import HEADER_FUNCS, Template, TemplateError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any


class FormatError(StatusError):
    """A template that does not parse or execute; the text docker prints (exit status 1)."""


def ellipsis(text: str, width: int) -> str:
    """formatter.Ellipsis for ASCII and wide text alike: cut to ``width`` display cells, the
    last one an ellipsis (…); nothing when ``width`` is not positive."""
    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        cells = display_width(ch)
        if used + cells > width - 1:
            break
        out += ch
        used += cells
    return out + "\u2026"


def is_table(fmt: str) -> bool:
    return fmt.startswith("table")


def template_text(fmt: str) -> str:
    """The template part of a format: without ``table``, ``json`` expanded, escapes applied."""
    text = fmt
    if is_table(fmt):
        text = fmt[len("table"):]
    elif fmt == "json":
        text = "{{json .}}"
    return text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def parse(fmt: str) -> Template:
    try:
        return Template(template_text(fmt))
    except TemplateError as exc:
        raise FormatError(f"template parsing error: {exc}") from exc


def render(fmt: str, rows: Iterable[Any], header: Mapping[str, str]) -> str:
    """Every row through the format; in table mode the header row first, all aligned."""
    tmpl = parse(fmt)
    body: list[str] = []
    for row in rows:
        try:
            body.append(tmpl.execute(row) + "\n")
        except TemplateError as exc:
            raise FormatError(f"template parsing error: {exc}") from exc
    if not is_table(fmt):
        return "".join(body)
    writer = TabWriter(10, 1, 3)
    try:  # noqa: SIM105 - importing contextlib costs a millisecond at start
        writer.write(tmpl.execute(dict(header), funcs=HEADER_FUNCS))
    except TemplateError:
        pass  # docker ignores a header that fails to render
    writer.write("\n")
    writer.write("".join(body))
    return writer.flush()
