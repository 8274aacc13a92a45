"""Contact files (CSV or XLSX) read a row at a time, checked before anything is written.

What a file is comes from its content, never its name: an XLSX is a zip
holding ``xl/workbook.xml``, a CSV is UTF-8 text. A file is refused whole, with
the reason, when it is neither, when its header has no number column, or when
an XLSX would unpack to more than the configured limit (a "zip bomb": a few
kilobytes that inflate to gigabytes in the reader). Rows are then read lazily:
``csv`` on the open text file, openpyxl's read-only mode on the workbook (it
parses the sheet's XML as a stream), so a file of a million rows is never held
in memory. These functions block: callers run them in a worker thread.

Columns follow both documents: Kimisms' first column ``number`` or Mobile
Sasa's ``phone`` column; ``first_name``, ``last_name``, ``email``, ``notes``
are the contact's own; up to six others are custom fields under their
header names.
"""

from __future__ import annotations

import codecs
import csv
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Literal

from jumbe.services.contacts import MAX_FIELDS, STANDARD, checked_header
from jumbe.services.csv_import import Rejection
from jumbe.services.errors import InvalidRequest

Kind = Literal["csv", "xlsx"]
SNIFF_BYTES = 64 * 1024
NUMBER_COLUMNS = ("number", "phone")
XLSX_PART = "xl/workbook.xml"
BOMB_RATIO = 200  # a part inflating more than this, and past BOMB_FLOOR, is refused
BOMB_FLOOR = 64 * 1024 * 1024
MAX_PARTS = 10_000


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each kind of value is in a row."""

    number: int
    standard: dict[str, int]  # first_name, ... -> position
    custom: tuple[tuple[str, int], ...]  # (header as written, position)
    width: int

    @property
    def headers(self) -> list[str]:
        return [h for h, _ in self.custom]


@dataclass(frozen=True, slots=True)
class Line:
    line: int
    values: list[str]


def keep(source: IO[bytes], path: Path) -> None:
    """An uploaded file (a spooled temporary one) copied to ``path``, to be read there."""
    source.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)


def sniff(path: Path) -> Kind:
    """``csv`` or ``xlsx`` by content; InvalidRequest saying what the file is otherwise."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head:
        raise InvalidRequest("the file is empty")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidRequest("the file is an old Excel (XLS) workbook: save it as XLSX or CSV")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise InvalidRequest(
            "the file is not a CSV or XLSX file (binary or UTF-16 content):"
            ' save it as "CSV UTF-8" or XLSX'
        )
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"the file is not UTF-8 text (byte {exc.start + 1} is not):"
            ' save it as "CSV UTF-8" or XLSX'
        ) from None
    return "csv"


def check_workbook(path: Path, max_unpacked: int) -> None:
    """Refuse an XLSX that is not one, or that would inflate past ``max_unpacked`` bytes."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise InvalidRequest("the file is not a readable XLSX workbook (a damaged zip)") from None
    names = {p.filename for p in parts}
    if XLSX_PART not in names:
        raise InvalidRequest("the file is a zip but not an XLSX workbook")
    if len(parts) > MAX_PARTS:
        raise InvalidRequest(f"the workbook has {len(parts)} parts; at most {MAX_PARTS}")
    total = sum(p.file_size for p in parts)
    if total > max_unpacked:
        raise InvalidRequest(
            f"the workbook unpacks to {total} bytes, over the limit of {max_unpacked}"
            " (save it as CSV, or split it)"
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > BOMB_FLOOR and ratio > BOMB_RATIO:
            raise InvalidRequest(
                f"the workbook's part {part.filename} inflates {ratio:.0f} times:"
                " refused as a zip bomb"
            )


def columns(header: list[str]) -> Columns:
    """The columns of a header row; InvalidRequest with the reason when it has no number."""
    keys = [h.strip().lower().replace(" ", "_") for h in header]
    while keys and not keys[-1]:  # trailing empty cells of a spreadsheet
        keys.pop()
    if not keys:
        raise InvalidRequest("the file has no header row")
    if keys[0] == "number":
        number = 0
    elif "phone" in keys:
        number = keys.index("phone")
    else:
        raise InvalidRequest(
            "no number column: the first column must be named number (or one column phone);"
            f" the header is {', '.join(h.strip() for h in header[: len(keys)])}"
        )
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidRequest(f"column {', '.join(twice)} is named twice in the header")
    standard: dict[str, int] = {}
    custom: list[tuple[str, int]] = []
    for position, key in enumerate(keys):
        if position == number:
            continue
        if key in STANDARD:
            standard[key] = position
        elif key in NUMBER_COLUMNS:
            continue  # "phone" beside a first column "number": one number column only
        elif not key:
            raise InvalidRequest(f"column {position + 1} has no name in the header")
        else:
            custom.append((checked_header(header[position]), position))
    if len(custom) > MAX_FIELDS:
        raise InvalidRequest(
            f"at most {MAX_FIELDS} custom columns beside the number; this file has"
            f" {len(custom)}: {', '.join(h for h, _ in custom)}"
        )
    return Columns(number, standard, tuple(custom), len(keys))


class Sheet:
    """An open contact file: its columns, then its rows (``lines``), then ``close``."""

    def __init__(self, path: Path, kind: Kind) -> None:
        self.kind = kind
        self._text: IO[str] | None = None
        self._workbook: Any = None
        self._binary: IO[bytes] | None = None
        if kind == "csv":
            self._text = path.open(encoding="utf-8-sig", errors="replace", newline="")
            self._reader = csv.reader(self._text)
            try:
                header = next(self._reader, [])
            except csv.Error as exc:
                self.close()
                raise InvalidRequest(f"the header row is not readable CSV: {exc}") from None
            self._rows: Iterator[tuple[int, list[str]] | Rejection] = self._csv_rows()
        else:
            self._rows = self._xlsx_rows(path)
            first = next(self._rows, (1, []))
            header = first[1] if isinstance(first, tuple) else []
        if any("\ufffd" in h for h in header):
            self.close()
            raise InvalidRequest('the header row is not UTF-8 text: save it as "CSV UTF-8"')
        try:
            self.columns = columns(header)
        except InvalidRequest:
            self.close()
            raise

    def lines(self) -> Iterator[Line | Rejection]:
        width = self.columns.width
        for row in self._rows:
            if isinstance(row, Rejection):
                yield row
                continue
            line, values = row
            if not any(v.strip() for v in values):
                continue
            if len(values) > width and not any(v.strip() for v in values[width:]):
                values = values[:width]
            if self.kind == "xlsx" and len(values) < width:
                values = values + [""] * (width - len(values))
            if len(values) != width:
                yield Rejection(line, f"{len(values)} fields; the header has {width}")
            elif any("\ufffd" in v for v in values):
                yield Rejection(line, "not UTF-8 text")
            else:
                yield Line(line, values)

    def batches(self, size: int) -> Iterator[list[Line | Rejection]]:
        """``lines`` a list of ``size`` at a time: what one transaction stores."""
        batch: list[Line | Rejection] = []
        for item in self.lines():
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _csv_rows(self) -> Iterator[tuple[int, list[str]] | Rejection]:
        while True:
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Rejection(self._reader.line_num, f"unreadable CSV: {exc}")
                continue
            yield self._reader.line_num, fields

    def _xlsx_rows(self, path: Path) -> Iterator[tuple[int, list[str]] | Rejection]:
        import openpyxl  # only uploads of workbooks pay for importing it

        # a file object: given a path, openpyxl goes by the name's extension
        self._binary = path.open("rb")
        try:
            self._workbook = openpyxl.load_workbook(self._binary, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise InvalidRequest(f"the XLSX workbook cannot be read: {exc}") from None
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell(v) for v in row]

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        if self._workbook is not None:
            self._workbook.close()
        if self._binary is not None:
            self._binary.close()


def _cell(value: Any) -> str:
    """A spreadsheet cell as the text a person typed: 254712345678, not 254712345678.0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def open_sheet(path: Path, kind: Kind, max_unpacked: int) -> Sheet:
    """The file checked and open at its first row; InvalidRequest when it cannot be imported."""
    if kind == "xlsx":
        check_workbook(path, max_unpacked)
    return Sheet(path, kind)
