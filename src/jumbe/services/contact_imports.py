"""Contact imports: a file accepted at once, then processed in the background.

``submit`` keeps the upload in the data directory, checks it (kind by
content, header, workbook size) and only then writes anything: the group (made
if the name is new, its headers extended by the file's) and a durable upload
row, in one transaction. A task started here reads the file a batch at a time
in a worker thread; each batch's contacts, memberships, rejected lines and the
upload's counts are one transaction, so the status an API client polls is
always what is stored. A number already in the account updates its contact
(the file's columns win), so an import cut short by a restart is simply run
again from the start when the service starts (``resume``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, literal, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.contact_files import Columns, Kind, Line, Sheet, keep, open_sheet, sniff
from jumbe.services.contacts import (
    MAX_FIELD_VALUE,
    ContactService,
    checked_text,
    fields_json,
    merged_headers,
    new_contact,
)
from jumbe.services.csv_import import Rejection
from jumbe.services.errors import InvalidRequest, NotFound
from jumbe.services.numbering import NumberingService
from jumbe.store.database import Database
from jumbe.store.schema import (
    contact_groups,
    contact_upload_errors,
    contact_uploads,
    contacts,
    group_members,
)

log = logging.getLogger(__name__)

BATCH = 2000
SHOWN_ERRORS = 100  # in the status answer; every one is in the CSV download
ERRORS_PAGE = 5000
UNFINISHED = ("queued", "processing")


@dataclass(frozen=True, slots=True)
class Upload:
    uuid: str
    status: str
    detail: str
    filename: str
    kind: str
    group_uuid: str | None
    group_name: str | None
    remove_duplicates: bool
    rows_read: int
    accepted: int
    rejected: int
    errors: list[Rejection]  # the first SHOWN_ERRORS
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    account_id: int
    group_id: int | None
    path: Path
    kind: Kind
    remove_duplicates: bool


@dataclass(frozen=True, slots=True)
class _Parsed:
    read: int
    rows: dict[str, dict[str, Any]]
    refused: list[Rejection]


class ContactImports:
    def __init__(
        self,
        db: Database,
        numbering: NumberingService,
        contacts: ContactService,
        directory: Path,
        *,
        max_unpacked: int,
        node: str = "",
        batch: int = BATCH,
    ) -> None:
        """``node``: this node's id; each node resumes only the uploads it holds the file of."""
        self.db = db
        self.numbering = numbering
        self.contacts = contacts
        self.directory = directory
        self.max_unpacked = max_unpacked
        self.node = node
        self.batch = batch
        self._tasks: set[asyncio.Task[None]] = set()

    # accepting a file ---------------------------------------------------------------

    async def submit(
        self,
        account_id: int,
        source: IO[bytes],
        *,
        filename: str = "",
        group: str | None = None,
        description: str = "",
        remove_duplicates: bool = False,
    ) -> Upload:
        """Keep, check and queue the file; InvalidRequest (nothing written) when it is bad."""
        uuid = str(uuidlib.uuid4())
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid}.upload"
        try:
            kind, headers = await asyncio.to_thread(self._keep, source, path)
            group_name = group.strip() if group else ""
            if group is not None and not group_name:
                raise InvalidRequest("group must be a name, or left out")
            job = await self.db.write(
                lambda conn: self._queue(
                    conn,
                    account_id,
                    uuid,
                    kind,
                    path,
                    filename=filename[:255],
                    group=group_name,
                    description=description,
                    headers=headers,
                    remove_duplicates=remove_duplicates,
                )
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._start(job)
        return await self.upload(account_id, uuid)

    def _keep(self, source: IO[bytes], path: Path) -> tuple[Kind, list[str]]:
        keep(source, path)
        kind = sniff(path)
        sheet = open_sheet(path, kind, self.max_unpacked)
        sheet.close()
        return kind, sheet.columns.headers

    def _queue(
        self,
        conn: Connection,
        account_id: int,
        uuid: str,
        kind: Kind,
        path: Path,
        *,
        filename: str,
        group: str,
        description: str,
        headers: list[str],
        remove_duplicates: bool,
    ) -> _Job:
        group_id = None
        if group:
            row = conn.execute(
                select(contact_groups).where(
                    contact_groups.c.account_id == account_id, contact_groups.c.name == group
                )
            ).first()
            if row is None:
                group_id = self.contacts.new_group(conn, account_id, group, description).id
                known: tuple[str, ...] = ()
            else:
                group_id, known = row.id, tuple(json.loads(row.headers))
            conn.execute(
                update(contact_groups)
                .where(contact_groups.c.id == group_id)
                .values(headers=json.dumps(merged_headers(known, headers), ensure_ascii=False))
            )
        upload_id = conn.execute(
            contact_uploads.insert()
            .values(
                uuid=uuid,
                account_id=account_id,
                group_id=group_id,
                filename=filename,
                kind=kind,
                node=self.node,
                remove_duplicates=remove_duplicates,
                status="queued",
                created_at=utcnow(),
            )
            .returning(contact_uploads.c.id)
        ).scalar_one()
        return _Job(upload_id, account_id, group_id, path, kind, remove_duplicates)

    # the background -------------------------------------------------------------------

    def _start(self, job: _Job) -> None:
        task = asyncio.create_task(self._run(job), name=f"contact-import-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        """Run again the imports a stop cut short (their files are still here)."""
        rows = await self.db.read(
            lambda conn: conn.execute(
                select(contact_uploads).where(
                    contact_uploads.c.status.in_(UNFINISHED), contact_uploads.c.node == self.node
                )
            ).all()
        )
        for row in rows:
            path = self.directory / f"{row.uuid}.upload"
            job = _Job(row.id, row.account_id, row.group_id, path, row.kind, row.remove_duplicates)
            if path.exists():
                await self.db.write(partial(self._restart, job=job))
                self._start(job)
            else:
                await self._finish(job, "failed", "the server stopped: upload the file again")

    @staticmethod
    def _restart(conn: Connection, job: _Job) -> None:
        conn.execute(
            delete(contact_upload_errors).where(contact_upload_errors.c.upload_id == job.id)
        )
        conn.execute(
            update(contact_uploads)
            .where(contact_uploads.c.id == job.id)
            .values(status="queued", rows_read=0, accepted=0, rejected=0)
        )

    async def stop(self) -> None:
        """Stop the running imports; they stay unfinished and ``resume`` runs them again."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait(self) -> None:
        """Until the imports running now are done (tests, the benchmark)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, job: _Job) -> None:
        await self.db.write(
            lambda conn: conn.execute(
                update(contact_uploads)
                .where(contact_uploads.c.id == job.id)
                .values(status="processing")
            )
        )
        sheet: Sheet | None = None
        try:
            sheet = await asyncio.to_thread(open_sheet, job.path, job.kind, self.max_unpacked)
            cols = sheet.columns
            batches = sheet.batches(self.batch)
            seen: set[str] | None = set() if job.remove_duplicates else None

            def produce() -> _Parsed | None:
                """The next batch read and checked, in a worker thread (one at a time, so
                ``seen`` is only ever touched by one of them)."""
                lines = next(batches, None)
                if lines is None:
                    return None
                return _Parsed(len(lines), *self._parse(job, cols, lines, seen))

            # the next batch is read and parsed while the database writes this one
            pending = asyncio.ensure_future(asyncio.to_thread(produce))
            while (parsed := await pending) is not None:
                await self.numbering.refresh()
                pending = asyncio.ensure_future(asyncio.to_thread(produce))
                store = partial(
                    self._store,
                    job=job,
                    cols=cols,
                    rows=parsed.rows,
                    refused=parsed.refused,
                    read=parsed.read,
                )
                await self.db.write(store)
        except asyncio.CancelledError:
            raise
        except InvalidRequest as exc:
            await self._finish(job, "failed", exc.message[:255])
        except Exception:
            log.exception("contact import %s failed", job.id)
            await self._finish(job, "failed", "the import failed on the server; try again")
        else:
            await self._finish(job, "completed", "")
        finally:
            if sheet is not None:
                await asyncio.to_thread(sheet.close)
        job.path.unlink(missing_ok=True)

    async def _finish(self, job: _Job, status: str, detail: str) -> None:
        await self.db.write(
            lambda conn: conn.execute(
                update(contact_uploads)
                .where(contact_uploads.c.id == job.id)
                .values(status=status, detail=detail, finished_at=utcnow())
            )
        )

    def _parse(
        self,
        job: _Job,
        cols: Columns,
        lines: list[Line | Rejection],
        seen: set[str] | None,
    ) -> tuple[dict[str, dict[str, Any]], list[Rejection]]:
        """Rows to store keyed by number (a later line of one number wins), and refusals."""
        now = utcnow()
        rows: dict[str, dict[str, Any]] = {}
        refused: list[Rejection] = []
        headers = cols.headers
        positions = [i for _h, i in cols.custom]
        encode = fields_json(headers)
        for item in lines:
            if isinstance(item, Rejection):
                refused.append(item)
                continue
            values = item.values
            raw = values[cols.number].strip()
            try:
                msisdn, carrier = self.numbering.recipient(raw)
                standard = {k: checked_text(k, values[i]) for k, i in cols.standard.items()}
            except InvalidRequest as exc:
                refused.append(Rejection(item.line, exc.message[:255]))
                continue
            custom = [values[i].strip() for i in positions]
            long = next(
                (h for h, v in zip(headers, custom, strict=True) if len(v) > MAX_FIELD_VALUE), None
            )
            if long is not None:
                refused.append(Rejection(item.line, f"{long} is longer than {MAX_FIELD_VALUE}"))
                continue
            if seen is not None:
                if msisdn in seen:
                    refused.append(Rejection(item.line, f"duplicate number {raw}: removed"))
                    continue
                seen.add(msisdn)
            rows[msisdn] = new_contact(
                job.account_id, msisdn, carrier, standard, encode(custom), now
            )
        return rows, refused

    def _store(
        self,
        conn: Connection,
        job: _Job,
        cols: Columns,
        rows: dict[str, dict[str, Any]],
        refused: list[Rejection],
        read: int,
    ) -> None:
        if rows:
            insert = self.db.insert(contacts)
            changed = ["carrier", "updated_at", *cols.standard]
            if cols.custom:
                changed.append("fields")
            upsert = insert.on_conflict_do_update(
                index_elements=["account_id", "msisdn"],
                set_={c: insert.excluded[c] for c in changed},
            )
            conn.execute(upsert, list(rows.values()))
            if job.group_id is not None:
                # the batch's contacts join the group in one statement, no ids round trip
                members = select(
                    literal(job.group_id), contacts.c.id, literal(job.account_id)
                ).where(contacts.c.account_id == job.account_id, contacts.c.msisdn.in_(list(rows)))
                conn.execute(
                    self.db.insert(group_members)
                    .from_select(["group_id", "contact_id", "account_id"], members)
                    .on_conflict_do_nothing()
                )
        if refused:
            conn.execute(
                contact_upload_errors.insert(),
                [
                    {
                        "upload_id": job.id,
                        "account_id": job.account_id,
                        "line": r.line,
                        "reason": r.reason[:255],
                    }
                    for r in refused
                ],
            )
        conn.execute(
            update(contact_uploads)
            .where(contact_uploads.c.id == job.id)
            .values(
                rows_read=contact_uploads.c.rows_read + read,
                accepted=contact_uploads.c.accepted + (read - len(refused)),
                rejected=contact_uploads.c.rejected + len(refused),
            )
        )

    # reading ---------------------------------------------------------------------------

    async def upload(self, account_id: int, uuid: str) -> Upload:
        def read(conn: Connection) -> Upload:
            row = conn.execute(
                select(
                    contact_uploads,
                    contact_groups.c.uuid.label("g_uuid"),
                    contact_groups.c.name.label("g_name"),
                )
                .outerjoin(contact_groups, contact_groups.c.id == contact_uploads.c.group_id)
                .where(contact_uploads.c.account_id == account_id, contact_uploads.c.uuid == uuid)
            ).first()
            if row is None:
                raise NotFound("upload not found")
            errors = conn.execute(
                select(contact_upload_errors.c.line, contact_upload_errors.c.reason)
                .where(contact_upload_errors.c.upload_id == row.id)
                .order_by(contact_upload_errors.c.line)
                .limit(SHOWN_ERRORS)
            )
            return Upload(
                uuid=row.uuid,
                status=row.status,
                detail=row.detail,
                filename=row.filename,
                kind=row.kind,
                group_uuid=row.g_uuid,
                group_name=row.g_name,
                remove_duplicates=row.remove_duplicates,
                rows_read=row.rows_read,
                accepted=row.accepted,
                rejected=row.rejected,
                errors=[Rejection(e.line, e.reason) for e in errors],
                created_at=row.created_at,
                finished_at=row.finished_at,
            )

        return await self.db.read(read)

    async def errors(self, account_id: int, uuid: str) -> AsyncIterator[list[Rejection]]:
        """Every rejected line, a page at a time; NotFound at once for another's upload."""
        upload_id = await self.db.read(
            lambda conn: conn.execute(
                select(contact_uploads.c.id).where(
                    contact_uploads.c.account_id == account_id, contact_uploads.c.uuid == uuid
                )
            ).scalar()
        )
        if upload_id is None:
            raise NotFound("upload not found")
        return self._error_pages(upload_id)

    async def _error_pages(self, upload_id: int) -> AsyncIterator[list[Rejection]]:
        errors = contact_upload_errors

        def page(conn: Connection, after: int) -> list[Any]:
            return list(
                conn.execute(
                    select(errors.c.id, errors.c.line, errors.c.reason)
                    .where(errors.c.upload_id == upload_id, errors.c.id > after)
                    .order_by(errors.c.id)
                    .limit(ERRORS_PAGE)
                )
            )

        after = 0
        while True:
            rows = await self.db.read(partial(page, after=after))
            if not rows:
                return
            after = rows[-1].id
            yield [Rejection(r.line, r.reason) for r in rows]
