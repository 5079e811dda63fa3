"""Summaries of timing samples and their text forms (table, TSV), with no I/O of their own.

A figure is the median with the min-max range and the number of samples, as in
/work/shared/docs/anchors.md. The ratio of a peer is peer median / dockyard median, so a ratio
above 1 means dockyard was faster.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

REFERENCE_ENGINE = "dockyard"

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"

TSV_HEADER = (
    "run",
    "row",
    "engine",
    "status",
    "median_s",
    "min_s",
    "max_s",
    "n",
    "ratio",
    "flags",
    "note",
)
TABLE_HEADER = ("row", "engine", "median", "min-max", "n", "ratio")


@dataclass(frozen=True, slots=True)
class Summary:
    """Median, min, max (seconds) and count of a non-empty list of samples."""

    median: float
    min: float
    max: float
    n: int


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one row for one engine: its samples, or why it has none."""

    row: str
    engine: str
    status: str
    samples: tuple[float, ...] = ()
    note: str = ""

    @property
    def summary(self) -> Summary | None:
        return summarize(self.samples) if self.samples and self.status == OK else None


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("summarize needs at least one sample")
    return Summary(statistics.median(samples), min(samples), max(samples), len(samples))


def ratio(peer: Summary | None, reference: Summary | None) -> float | None:
    """Peer median / reference median; None when either is missing (or the reference is 0)."""
    if peer is None or reference is None or reference.median <= 0:
        return None
    return peer.median / reference.median


def _unit(seconds: float) -> tuple[str, float]:
    if seconds >= 1:
        return "s", 1.0
    if seconds >= 1e-3:
        return "ms", 1e3
    return "us", 1e6


def _three_digits(value: float) -> str:
    """`value` with three significant digits, but never in exponent form: 7.30, 33.9, 795, 1290."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    # Rounding can carry into a new digit (9.996 -> "10.00"); keep three significant digits.
    if decimals > 0 and len(text.replace("-", "").replace(".", "").lstrip("0")) > 3:
        text = f"{value:.{decimals - 1}f}"
    return text


def format_duration(seconds: float) -> str:
    unit, scale = _unit(seconds)
    return f"{_three_digits(seconds * scale)} {unit}"


def format_range(low: float, high: float, median: float) -> str:
    """The range in the median's unit, as anchors.md writes it: "5.78-7.75 s", "607-1290 ms"."""
    unit, scale = _unit(median)
    return f"{_three_digits(low * scale)}-{_three_digits(high * scale)} {unit}"


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def reference_of(results: Sequence[Result], row: str) -> Summary | None:
    for result in results:
        if result.row == row and result.engine == REFERENCE_ENGINE:
            return result.summary
    return None


def table_cells(result: Result, reference: Summary | None) -> tuple[str, ...]:
    summary = result.summary
    if summary is None:
        status = result.status.upper()
        return (result.row, result.engine, f"{status}: {result.note}" if result.note else status)
    if result.engine == REFERENCE_ENGINE:
        shown_ratio = "ref"
    else:
        shown_ratio = format_ratio(ratio(summary, reference))
    return (
        result.row,
        result.engine,
        format_duration(summary.median),
        format_range(summary.min, summary.max, summary.median),
        str(summary.n),
        shown_ratio,
    )


def render_table(results: Sequence[Result]) -> str:
    """A plain-text table; a row without samples spans the figure columns with its reason."""
    rows = [table_cells(r, reference_of(results, r.row)) for r in results]
    every = [TABLE_HEADER, *rows]
    # A short row's last cell (its reason) spans the remaining columns and sets no width.
    widths = [
        max(len(cells[i]) for cells in every if i < len(cells) - (len(cells) < len(TABLE_HEADER)))
        for i in range(len(TABLE_HEADER))
    ]
    right = {2, 3, 4, 5}  # numbers are right-aligned
    lines = []
    for cells in [TABLE_HEADER, *rows]:
        short = len(cells) < len(TABLE_HEADER)
        parts = []
        for i, cell in enumerate(cells):
            if short and i == len(cells) - 1:
                parts.append(cell)
            elif i in right:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def ratio_of(result: Result, results: Sequence[Result]) -> float | None:
    """The ratio of `result` within its row of `results` (1.0 for dockyard itself)."""
    summary = result.summary
    if summary is not None and result.engine == REFERENCE_ENGINE:
        return 1.0
    return ratio(summary, reference_of(results, result.row))


def tsv_lines(run: str, results: Sequence[Result], flags: str = "") -> list[str]:
    """One line per result for summary.tsv (seconds with 6 decimals; empty fields when absent).

    `flags` names options that change what was timed (e.g. "timed-sync").
    """
    lines = []
    for result in results:
        summary = result.summary
        rat = ratio_of(result, results)
        figures = (
            ("", "", "", "0")
            if summary is None
            else (*(f"{v:.6f}" for v in (summary.median, summary.min, summary.max)), str(summary.n))
        )
        note = " ".join(result.note.split())
        fields = (
            run,
            result.row,
            result.engine,
            result.status,
            *figures,
            "" if rat is None else f"{rat:.4f}",
            flags,
            note,
        )
        lines.append("\t".join(fields))
    return lines
