"""What the simulated SMSC must not forget when its process dies: a small SQLite file.

A real SMSC keeps a message's state, its receipt and the MO messages it owes an ESME
until the ESME has them, whatever happens to the ESME or to the SMSC's own processes;
Jumbe's embedded carrier runs inside ``jumbe serve`` and dies with it, so it keeps the
same things here, in the data dir: every submitted message (its state, answered to
``query_sm``, and whether a receipt is still owed), the MO messages not yet delivered,
and which devices are offline until when.

Writes are executed at once and committed together once per event-loop turn (WAL,
``synchronous=NORMAL``: safe against the process being killed, which is what this is
for); ``durable()`` waits for that commit, so a ``submit_sm_resp`` goes out only once
the message it acknowledges is on disk. Times are wall-clock (``time.time()``) so they
mean the same after a restart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Journal", "Pending", "Stored"]

RETENTION = 3 * 24 * 3600.0  # seconds a settled message stays answerable to query_sm

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    submission TEXT NOT NULL,  -- the carrier's own record of the submit (JSON)
    state INTEGER,             -- the final message_state; NULL while unknown (held, silent)
    due REAL,                  -- when that state is reached (and its receipt goes out)
    owed INTEGER NOT NULL,     -- 1 while a receipt is owed to the ESME
    held_for TEXT,             -- an offline device it waits for
    expires REAL NOT NULL,     -- the end of its validity period
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_owed ON messages (owed) WHERE owed = 1;
CREATE INDEX IF NOT EXISTS messages_held ON messages (held_for) WHERE held_for IS NOT NULL;
CREATE TABLE IF NOT EXISTS mo (id INTEGER PRIMARY KEY, pdu BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS offline (device TEXT PRIMARY KEY, back_at REAL);
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """A message as ``query_sm`` sees it."""

    state: int | None
    due: float | None
    held: bool
    expires: float


@dataclass(frozen=True, slots=True)
class Pending:
    """What a restarted SMSC still owes: receipts, held messages, MOs, offline devices."""

    receipts: list[tuple[str, str, int, float]]  # message_id, submission, state, due
    held: list[tuple[str, str, str, float]]  # message_id, submission, device, expires
    mo: list[tuple[int, bytes]]  # row id, encoded deliver_sm
    offline: list[tuple[str, float | None]]  # device, back at (None: until told)


class Journal:
    def __init__(self, path: Path | None) -> None:
        """``path`` None keeps the journal in memory (a simulator that need not outlive us)."""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if path is None else path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")
        self._commit: asyncio.Future[None] | None = None

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()

    # writes --------------------------------------------------------------------

    def submitted(
        self,
        message_id: str,
        submission: str,
        *,
        state: int | None,
        due: float | None,
        owed: bool,
        held_for: str | None,
        expires: float,
    ) -> None:
        self._write(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, submission, state, due, int(owed), held_for, expires, time.time()),
        )

    def settled(self, message_id: str, *, state: int | None, due: float, owed: bool) -> None:
        """A held message's outcome is known (its device came back, or its validity ended)."""
        self._write(
            "UPDATE messages SET state = ?, due = ?, owed = ?, held_for = NULL"
            " WHERE message_id = ?",
            (state, due, int(owed), message_id),
        )

    def receipt_delivered(self, message_id: str) -> None:
        self._write("UPDATE messages SET owed = 0 WHERE message_id = ?", (message_id,))

    def mo_queued(self, pdu: bytes) -> int:
        cursor = self._write("INSERT INTO mo (pdu) VALUES (?)", (pdu,))
        return int(cursor.lastrowid or 0)

    def mo_delivered(self, row: int) -> None:
        self._write("DELETE FROM mo WHERE id = ?", (row,))

    def offline(self, device: str, back_at: float | None) -> None:
        self._write("INSERT OR REPLACE INTO offline VALUES (?, ?)", (device, back_at))

    def online(self, device: str) -> None:
        self._write("DELETE FROM offline WHERE device = ?", (device,))

    async def durable(self) -> None:
        """Wait until everything written so far is committed (one commit per loop turn)."""
        if self._commit is None:
            self._commit = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._flush)
        await asyncio.shield(self._commit)

    def _write(self, sql: str, values: tuple[object, ...]) -> sqlite3.Cursor:
        cursor = self._db.execute(sql, values)
        if self._commit is None:  # committed on the next turn even if nobody waits for it
            self._commit = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._flush)
        return cursor

    def _flush(self) -> None:
        waiting, self._commit = self._commit, None
        try:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            if waiting is not None:
                waiting.set_exception(exc)
            raise
        if waiting is not None:
            waiting.set_result(None)

    # reads ---------------------------------------------------------------------

    def find(self, message_id: str) -> Stored | None:
        row = self._db.execute(
            "SELECT state, due, held_for, expires FROM messages WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            return None
        return Stored(row[0], row[1], row[2] is not None, row[3])

    def pending(self) -> Pending:
        """Everything still owed, oldest first."""
        db = self._db
        return Pending(
            receipts=db.execute(
                "SELECT message_id, submission, state, due FROM messages"
                " WHERE owed = 1 AND held_for IS NULL AND state IS NOT NULL ORDER BY due"
            ).fetchall(),
            held=db.execute(
                "SELECT message_id, submission, held_for, expires FROM messages"
                " WHERE held_for IS NOT NULL ORDER BY created"
            ).fetchall(),
            mo=db.execute("SELECT id, pdu FROM mo ORDER BY id").fetchall(),
            offline=db.execute("SELECT device, back_at FROM offline").fetchall(),
        )

    def prune(self) -> None:
        """Forget settled messages older than ``RETENTION``, as an SMSC's store does."""
        self._write(
            "DELETE FROM messages WHERE owed = 0 AND held_for IS NULL AND created < ?",
            (time.time() - RETENTION,),
        )
