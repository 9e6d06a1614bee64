"""Tables for people at a terminal, plain lines for pipes: what both command lines print.

At a terminal a table is drawn with Rich when it fits the terminal's width; when it does
not, each row is printed as a block of ``name  value`` lines, so no value (an apiKey above
all) is ever wrapped mid-value or cut, and no column is squeezed unreadable. When stdout is
not a terminal (``| grep``, ``> file``, a script), the same rows come out as
tab-separated lines under a header line, one row a line, with no markup: ``cut -f2`` works.
``--json`` stays the exact form for programs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text


def print_table(console: Console, columns: Sequence[str], rows: Iterable[Sequence[object]], *,
                title: str | None = None) -> None:
    """Rows of plain values (not markup) under ``columns``."""
    cells = [[_plain(value) for value in row] for row in rows]
    if not console.is_terminal:
        console.file.write("\t".join(columns) + "\n")
        for row in cells:
            console.file.write("\t".join(row) + "\n")
        console.file.flush()
        return
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    if sum(widths) + 3 * len(columns) + 1 > console.width:
        _print_records(console, columns, cells, title)  # too narrow for a table of these
        return
    table = Table(title=title)
    for name in columns:  # everything fits: no value (an apiKey above all) is ever wrapped
        table.add_column(name, no_wrap=True)
    for row in cells:
        table.add_row(*(Text(value) for value in row))
    console.print(table)


def _print_records(console: Console, columns: Sequence[str], cells: list[list[str]],
                   title: str | None) -> None:
    """One block a row, ``name  value`` a line: nothing is squeezed into unreadable columns."""
    if title:
        console.print(Text(title, style="bold"))
    pad = max(len(name) for name in columns)
    for number, row in enumerate(cells):
        if number:
            console.print()
        for name, value in zip(columns, row, strict=True):
            console.print(Text(f"{name:<{pad}}  ", style="dim") + Text(value), soft_wrap=True)


def _plain(value: object) -> str:
    """One cell on one line: tabs and line breaks inside a value become spaces."""
    text = "" if value is None else str(value)
    return " ".join(text.split()) if any(c in text for c in "\t\r\n") else text
