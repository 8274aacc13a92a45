"""Streaming CSV imports: a header, then rows checked and stored in batches.

Files can hold millions of rows, so they are never read whole: the csv module
reads the open file a batch at a time (in a worker thread, to keep file reads
off the event loop), each batch is checked and written in one transaction,
and a bad row is reported with its line number and skipped rather than
sinking the file. Batches already written stay written.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from jumbe.services.errors import InvalidRequest

BATCH = 1000
KEPT_REJECTIONS = 100  # in the summary; every one goes to ``on_rejection`` as it happens


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, str]  # every known column; absent or blank ones as ""


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    accepted: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first KEPT_REJECTIONS

    @property
    def rows(self) -> int:
        return self.accepted + self.rejected

    def as_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejections": [{"line": r.line, "reason": r.reason} for r in self.rejections],
        }


# What a caller wants to hear about while an import runs.
OnProgress = Callable[[ImportReport], None]
OnRejection = Callable[[Rejection], None]
# Checks and stores one batch; returns the rows it refused.
StoreBatch = Callable[[list[Row]], Awaitable[list[Rejection]]]


class CsvImport:
    def __init__(
        self,
        source: TextIO,
        *,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
        batch: int = BATCH,
        progress_every: int = 10_000,
        on_progress: OnProgress | None = None,
        on_rejection: OnRejection | None = None,
    ) -> None:
        self.source = source
        self.required = required
        self.known = required + optional
        self.batch = batch
        self.progress_every = progress_every
        self.on_progress = on_progress
        self.on_rejection = on_rejection
        self.report = ImportReport()

    async def run(self, store: StoreBatch) -> ImportReport:
        batches = await asyncio.to_thread(self._batches)
        last_progress = 0
        while (rows := await asyncio.to_thread(next, batches, None)) is not None:
            unreadable = [r for r in rows if isinstance(r, Rejection)]
            good = [r for r in rows if isinstance(r, Row)]
            refused = await store(good) if good else []
            for rejection in sorted(unreadable + refused, key=lambda r: r.line):
                self.reject(rejection)
            self.report.accepted += len(good) - len(refused)
            if self.on_progress and self.report.rows - last_progress >= self.progress_every:
                last_progress = self.report.rows
                self.on_progress(self.report)
        if self.on_progress and self.report.rows != last_progress:
            self.on_progress(self.report)
        return self.report

    def reject(self, rejection: Rejection) -> None:
        self.report.rejected += 1
        if len(self.report.rejections) < KEPT_REJECTIONS:
            self.report.rejections.append(rejection)
        if self.on_rejection:
            self.on_rejection(rejection)

    def _batches(self) -> Iterator[list[Row | Rejection]]:
        """Read the header now (so a bad one fails before anything is written), rows later."""
        reader = csv.reader(self.source)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
        except csv.Error as exc:  # e.g. a field longer than the csv module's limit
            raise InvalidRequest(f"the header row is not readable CSV: {exc}") from None
        missing = [c for c in self.required if c not in header]
        if missing or not header:
            raise InvalidRequest(
                f"the header row must name {', '.join(self.required)}"
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        unknown = [c for c in header if c not in self.known]
        if unknown:
            raise InvalidRequest(
                f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(self.known)}"
            )
        if len(set(header)) != len(header):
            raise InvalidRequest("a column is named twice in the header row")
        return self._rows(reader, header)

    def _rows(self, reader: Any, header: list[str]) -> Iterator[list[Row | Rejection]]:
        batch: list[Row | Rejection] = []
        blank = dict.fromkeys(self.known, "")
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                batch.append(Rejection(reader.line_num, f"unreadable CSV: {exc}"))
                continue
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                batch.append(
                    Rejection(
                        reader.line_num, f"{len(fields)} fields; the header has {len(header)}"
                    )
                )
            elif any("\ufffd" in f for f in fields):
                batch.append(Rejection(reader.line_num, "not UTF-8 text"))
            else:
                batch.append(Row(reader.line_num, blank | dict(zip(header, fields, strict=True))))
            if len(batch) >= self.batch:
                yield batch
                batch = []
        if batch:
            yield batch
