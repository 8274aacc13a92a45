"""KYC documents on disk: checked by their content, stored under the data dir.

A document's type is what its bytes say (``filetype`` reads the magic
numbers), never its name or the client's Content-Type: a script renamed
``letter.pdf`` is refused. Files go to ``<data dir>/kyc/<account>/<uuid>.<ext>``,
a directory no route serves, with owner-only permissions; the database row
says where, and only the account's members and staff are handed one (the
services check, the faces stream).

A file is written to a temporary name, flushed to disk and renamed, so a
crash never leaves half a document under a name a row points to; the caller
removes what it stored when its transaction fails.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype

from jumbe.services.errors import InvalidRequest

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
DOCUMENT_KINDS = {
    "business_registration": "business registration certificate",
    "authorisation_letter": "letter of authorisation",
}
# MIME type as the bytes reveal it -> the extension it is stored with
ALLOWED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
_HEAD = 262  # what filetype needs to see
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class StoredDocument:
    uuid: str
    kind: str
    content_type: str
    size: int
    sha256: str
    filename: str
    path: str  # relative to the data dir


class KycDocuments:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def store(self, account_id: int, kind: str, source: BinaryIO, filename: str) -> StoredDocument:
        """Check and store one document (blocking: call it in a thread)."""
        label = DOCUMENT_KINDS[kind]
        source.seek(0)
        head = source.read(_HEAD)
        if not head:
            raise InvalidRequest(f"the {label} is empty")
        found = filetype.guess_mime(head)
        if found not in ALLOWED_TYPES:
            raise InvalidRequest(
                f"the {label} must be a PDF, PNG or JPEG file"
                f" (its content is {found or 'not a known type'})"
            )
        document_uuid = str(uuid.uuid4())
        relative = Path("kyc") / str(account_id) / f"{document_uuid}.{ALLOWED_TYPES[found]}"
        final = self.data_dir / relative
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = final.with_suffix(".part")
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                chunk = head
                while chunk:
                    size += len(chunk)
                    if size > MAX_DOCUMENT_BYTES:
                        raise InvalidRequest(
                            f"the {label} is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    chunk = source.read(_CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredDocument(
            uuid=document_uuid,
            kind=kind,
            content_type=found,
            size=size,
            sha256=digest.hexdigest(),
            filename=_shown_name(filename, ALLOWED_TYPES[found]),
            path=relative.as_posix(),
        )

    def path_of(self, relative: str) -> Path:
        return self.data_dir / relative

    def remove(self, relative: str) -> None:
        (self.data_dir / relative).unlink(missing_ok=True)


def _shown_name(filename: str, extension: str) -> str:
    """The client's file name, for showing and downloading only: the base name, printable,
    at most 120 characters; never used as a path."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable() and c not in '"\r\n').strip()
    return cleaned[:120] or f"document.{extension}"
