"""An elastic tabstop writer: a port of Go's text/tabwriter as docker vendors it.

docker aligns every table with ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` (formatter.go)
and ``docker version`` with ``(20, 1, 1, ' ', 0)``. The algorithm matters for byte-exact
output: a cell is text ended by a tab; the last cell of a line is not part of a column and is
not padded; a column's width is its widest cell plus padding, at least ``minwidth``, computed
over a *block* of consecutive lines that have that column; a line with no tab ends all blocks
(it flushes). Widths count display cells (go-runewidth), so East Asian wide runes count two.
"""

from __future__ import annotations


def display_width(text: str) -> int:
    """Terminal cells of ``text``: 2 for wide and fullwidth runes, 0 for combining marks."""
    if text.isascii():
        return len(text)
    import unicodedata

    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


class _Cell:
    __slots__ = ("htab", "text", "width")

    def __init__(self, text: str, width: int, htab: bool) -> None:
        self.text = text
        self.width = width
        self.htab = htab


class TabWriter:
    """Collects text with ``write()`` and emits aligned text to a list of parts on ``flush()``."""

    def __init__(self, minwidth: int = 10, tabwidth: int = 1, padding: int = 3,
                 padchar: str = " ") -> None:
        self.minwidth = minwidth
        self.tabwidth = tabwidth
        self.padding = padding
        self.padchar = padchar
        self.out: list[str] = []
        self._lines: list[list[_Cell]] = [[]]
        self._pending = ""
        self._widths: list[int] = []

    def write(self, text: str) -> None:
        start = 0
        for i, ch in enumerate(text):
            if ch not in "\t\v\n\f":
                continue
            self._pending += text[start:i]
            start = i + 1
            ncells = self._terminate_cell(ch == "\t")
            if ch in "\n\f":
                self._lines.append([])
                if ch == "\f" or ncells == 1:
                    self._flush_lines()
        self._pending += text[start:]

    def _terminate_cell(self, htab: bool) -> int:
        line = self._lines[-1]
        line.append(_Cell(self._pending, display_width(self._pending), htab))
        self._pending = ""
        return len(line)

    def flush(self) -> str:
        """Format everything written so far; returns (and forgets) the text."""
        if self._pending:
            self._terminate_cell(False)
        self._flush_lines()
        text = "".join(self.out)
        self.out = []
        return text

    def _flush_lines(self) -> None:
        self._format(0, len(self._lines))
        self._lines = [[]]
        self._widths = []

    def _format(self, line0: int, line1: int) -> None:
        column = len(self._widths)
        this = line0
        while this < line1:
            line = self._lines[this]
            if column >= len(line) - 1:
                this += 1
                continue
            self._write_lines(line0, this)
            line0 = this
            width = self.minwidth
            while this < line1:
                line = self._lines[this]
                if column >= len(line) - 1:
                    break
                width = max(width, line[column].width + self.padding)
                this += 1
            self._widths.append(width)
            self._format(line0, this)
            self._widths.pop()
            line0 = this
        self._write_lines(line0, line1)

    def _write_lines(self, line0: int, line1: int) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(self._lines[i]):
                self.out.append(cell.text)
                if j < len(self._widths):
                    self.out.append(self.padchar * (self._widths[j] - cell.width))
            if i + 1 < len(self._lines):
                self.out.append("\n")
