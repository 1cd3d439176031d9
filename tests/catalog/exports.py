"""Partial Shopify exports made from the real samples, as a merchant cuts a sheet down."""

import csv
import io
from collections.abc import Callable

Row = dict[str, str]


def cut(
    content: bytes, columns: list[str], edit: Callable[[Row, bool], Row] | None = None
) -> bytes:
    """The export with only ``columns``; ``edit(row, first_row_of_its_handle)`` may change a
    row. Rows keep their order, so each handle's first row still carries the product."""
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    seen: set[str] = set()
    for row in rows:
        first = row["Handle"] not in seen
        seen.add(row["Handle"])
        writer.writerow(edit(dict(row), first) if edit else row)
    return out.getvalue().encode()


def on_first_row(handle: str, **cells: str) -> Callable[[Row, bool], Row]:
    """An ``edit`` that sets ``cells`` on the first row of ``handle``."""

    def edit(row: Row, first: bool) -> Row:
        return {**row, **cells} if first and row["Handle"] == handle else row

    return edit
