"""Data rows of a CSV file, with the line of each and one-line errors naming it: shared by the
readers of CSV files (MediaPipe landmarks, the custom format's ``labels.csv``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

from ..errors import FormatError


def open_csv(path: str | Path, expected: str = "") -> tuple:
    """``(csv.reader positioned after the header, header: lower-case stripped names)`` of a
    UTF-8 CSV file (a BOM is allowed); :class:`FormatError` naming the file (line 1 for the
    header) when it cannot be read, is not UTF-8, is empty or has a header CSV cannot parse.
    ``expected`` (e.g. ``" 'file,label'"``) is added to the message for a missing header."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise FormatError(path, "not UTF-8 text; expected CSV") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FormatError(path, f"empty file: expected a header line{expected}", 1) from None
    except csv.Error as e:
        raise FormatError(path, f"CSV syntax: {e}", 1) from None
    return reader, header


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
