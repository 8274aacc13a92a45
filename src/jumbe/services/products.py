"""The tariff catalogue: the offerings a SIM can be on.

Tariffs are the operator's, not an account's: every account's SIMs draw from
the same catalogue, which the operator edits from the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from jumbe.core.clock import utcnow
from jumbe.services.errors import Conflict, InvalidRequest, NotFound
from jumbe.store.database import Database
from jumbe.store.schema import products

PRODUCT_STATUSES = ("Active", "Inactive")
_OFFERING_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


@dataclass(frozen=True, slots=True)
class Product:
    offering_id: str
    name: str
    status: str


class ProductService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, offering_id: str, name: str, status: str = "Active") -> Product:
        offering_id, name = offering_id.strip(), name.strip()
        if not _OFFERING_ID.fullmatch(offering_id):
            raise InvalidRequest(
                "an offering id is 1 to 32 letters, digits, dots, dashes or underscores"
            )
        if not name or len(name) > 120:
            raise InvalidRequest("a product name is 1 to 120 characters")
        product = Product(offering_id, name, _status(status))

        def insert_product(conn: Connection) -> None:
            conn.execute(
                insert(products).values(
                    offering_id=offering_id,
                    name=name,
                    status=product.status,
                    created_at=utcnow(),
                )
            )

        try:
            await self.db.write(insert_product)
        except IntegrityError as exc:
            raise Conflict(f"product {offering_id!r} already exists") from exc
        return product

    async def set_status(self, offering_id: str, status: str) -> Product:
        statement = (
            update(products)
            .where(products.c.offering_id == offering_id)
            .values(status=_status(status))
            .returning(products)
        )

        def update_status(conn: Connection) -> Row[Any] | None:
            return conn.execute(statement).one_or_none()

        row = await self.db.write(update_status)
        if row is None:
            raise NotFound(f"no product {offering_id!r}")
        return Product(row.offering_id, row.name, row.status)

    async def list(self) -> list[Product]:
        query = select(products).order_by(products.c.offering_id)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [Product(r.offering_id, r.name, r.status) for r in rows]


def _status(status: str) -> str:
    for known in PRODUCT_STATUSES:
        if status.strip().lower() == known.lower():
            return known
    raise InvalidRequest(f"product status must be {' or '.join(PRODUCT_STATUSES)}")
