"""The REST v1 answers of contacts, groups, imports, templates and opt-outs, as published.

Kept beside ``schemas.py`` (the messages, tokens and team answers) for the same
reason: the routes answer plain dicts, and these models only describe them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ContactOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "uuid": "0b6f7c7e-4d1a-4a55-9a0e-2f1d7f3b9c10",
                "phone": "+254712345678",
                "carrier": "safaricom",
                "first_name": "Jane",
                "last_name": "Doe",
                "email": "jane@example.com",
                "notes": "",
                "fields": {"name": "Jane", "amount": "1500"},
                "created_at": "2026-01-05T08:30:00Z",
                "updated_at": "2026-01-05T08:30:00Z",
            }
        }
    )
    uuid: str
    phone: str
    carrier: str
    first_name: str
    last_name: str
    email: str
    notes: str
    fields: dict[str, str]
    created_at: str
    updated_at: str


class Deleted(BaseModel):
    uuid: str
    deleted: Literal[True]


class GroupOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "uuid": "5d1e0f9a-8c2b-4f7e-9d3a-1b2c3d4e5f60",
                "name": "VIP Customers",
                "description": "High-value customer segment",
                "headers": ["name", "amount"],
                "contact_count": 120,
                "created_at": "2026-01-05T08:30:00Z",
            }
        }
    )
    uuid: str
    name: str
    description: str
    headers: list[str]
    contact_count: int
    created_at: str


class RemovedMember(BaseModel):
    group: str
    phone: str
    removed: Literal[True]


class UploadOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "uuid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                "status": "completed",
                "detail": "",
                "filename": "customers.csv",
                "kind": "csv",
                "group": {"uuid": "5d1e0f9a-8c2b-4f7e-9d3a-1b2c3d4e5f60", "name": "June"},
                "remove_duplicates": True,
                "rows_read": 3,
                "accepted": 2,
                "rejected": 1,
                "errors": [{"line": 3, "reason": "invalid phone number '12345': too short"}],
                "errors_csv": "/api/v1/contacts/uploads/9a8b7c6d/errors",
                "created_at": "2026-01-05T08:30:00Z",
                "finished_at": "2026-01-05T08:30:02Z",
            }
        }
    )
    uuid: str
    status: Literal["queued", "processing", "completed", "failed"]
    detail: str
    filename: str
    kind: Literal["csv", "xlsx"]
    group: dict[str, str] | None
    remove_duplicates: bool
    rows_read: int
    accepted: int
    rejected: int
    errors: list[dict[str, int | str]]
    errors_csv: str
    created_at: str
    finished_at: str | None


class TemplateOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "uuid": "3c2b1a09-8f7e-4d6c-9b5a-493827161504",
                "name": "Payment received",
                "group": {"uuid": "5d1e0f9a-8c2b-4f7e-9d3a-1b2c3d4e5f60", "name": "June"},
                "body": "Hi {name}, your payment of KES {amount} has been received.",
                "placeholders": ["name", "amount"],
                "created_at": "2026-01-05T08:30:00Z",
                "updated_at": "2026-01-05T08:30:00Z",
            }
        }
    )
    uuid: str
    name: str
    group: dict[str, str]
    body: str
    placeholders: list[str]
    created_at: str
    updated_at: str


class PreviewOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "template": "3c2b1a09-8f7e-4d6c-9b5a-493827161504",
                "contact": "0b6f7c7e-4d1a-4a55-9a0e-2f1d7f3b9c10",
                "phone": "+254712345678",
                "message": "Hi Jane, your payment of KES 1500 has been received.",
                "characters": 52,
                "parts": 1,
                "units": 1,
                "encoding": "gsm7",
            }
        }
    )
    template: str
    contact: str
    phone: str
    message: str
    characters: int
    parts: int
    units: int
    encoding: str


class SuppressionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "phone": "+254712345678",
                "source": "mo",
                "created_at": "2026-01-05T08:30:00Z",
            }
        }
    )
    phone: str
    source: Literal["mo", "api", "import"]
    created_at: str


class Unsuppressed(BaseModel):
    phone: str
    removed: Literal[True]
