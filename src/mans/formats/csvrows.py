"""Data rows of a CSV file, with the line of each and one-line errors naming it: shared by the
readers of CSV files (MediaPipe landmarks, the custom format's ``labels.csv``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from ..errors import FormatError


def csv_records(reader, path: str | Path, width: int, what: str = ""
                ) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of every non-blank row left in ``reader`` (a :func:`csv.reader`);
    :class:`FormatError` at the line of a CSV syntax error or of a row that does not have
    ``width`` fields (``what``, e.g. ``" (file,label)"``, is added to that message)."""
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise FormatError(path, f"CSV syntax: {e}", reader.line_num) from None
        line = reader.line_num
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != width:
            raise FormatError(path, f"expected {width} columns{what}, found {len(rec)}", line)
        yield line, rec
