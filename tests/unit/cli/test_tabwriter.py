"""The tabwriter port against Go's text/tabwriter behaviour and docker's tables."""

from __future__ import annotations

from dockyard.cli.tabwriter import TabWriter, display_width


def table(text: str, minwidth: int = 10, padding: int = 3) -> str:
    writer = TabWriter(minwidth, 1, padding)
    writer.write(text)
    return writer.flush()


def test_docker_table_layout() -> None:
    text = ("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n"
            "busybox\tlatest\tcbd6520f9b0c\t22 seconds ago\t1.98MB\n")
    assert table(text) == (
        "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n"
        "busybox      latest    cbd6520f9b0c   22 seconds ago   1.98MB\n")


def test_last_cell_is_not_padded_and_minwidth_applies() -> None:
    assert table("a\tb\n") == "a         b\n"
    assert table("a\tb\tc\n") == "a         b         c\n"


def test_a_line_without_tabs_ends_the_column_block() -> None:
    text = "long-name-here\tx\nplain line\nab\ty\n"
    assert table(text) == "long-name-here   x\nplain line\nab        y\n"


def test_unterminated_text_is_flushed() -> None:
    assert table("a\tb") == "a         b"


def test_version_layout() -> None:
    text = "Client:\n Version:\t0.1.0\n API version:\t1.41\n"
    assert table(text, 20, 1) == "Client:\n Version:           0.1.0\n API version:       1.41\n"


def test_wide_runes_count_two_cells() -> None:
    assert display_width("ab") == 2
    assert display_width("日本") == 4
    assert table("日本\tx\nab\ty\n", 1, 1) == "日本 x\nab   y\n"
