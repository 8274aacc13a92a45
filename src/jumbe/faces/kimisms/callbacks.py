"""Kimisms delivery callbacks: ``message_id``, ``contact``, ``status``, ``description``,
``provider``, POSTed at each status change of a message sent through this face.

The document's statuses are INITIATED, SENT, DELIVERED and FAILED (from any prior
status); Jumbe's finer final states (expired, rejected, cancelled) are FAILED
here, with Jumbe's own words in ``description``. ``delivery_id`` and
``sequence`` are added, as in REST callbacks, so a receiver can drop repeats and
order a message's callbacks; a receiver that reads only the documented fields
is not disturbed by them.
"""

from __future__ import annotations

import json

from jumbe.core.status import MessageStatus
from jumbe.faces.kimisms.send import provider
from jumbe.services.events import StatusChanged

STATUS = {
    MessageStatus.ACCEPTED: "INITIATED",
    MessageStatus.SENT: "SENT",
    MessageStatus.DELIVERED: "DELIVERED",
}
DESCRIPTION = {
    "INITIATED": "Message created and queued for processing",
    "SENT": "Message dispatched to the network provider",
    "DELIVERED": "Message delivered to handset",
}


def render(change: StatusChanged, delivery_id: str) -> str:
    status = STATUS.get(change.status, "FAILED")
    return json.dumps(
        {
            "message_id": change.uuid,
            "contact": change.recipient,
            "status": status,
            "description": DESCRIPTION.get(status) or change.status_detail or "Message failed",
            "provider": provider(change.carrier),
            "delivery_id": delivery_id,
            "sequence": change.sequence,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
