"""REST v1 callbacks: how a status change of a message sent through this face is POSTed.

The body is the message exactly as ``GET /api/v1/messages/{uuid}`` shows it at
that change, with ``event``, the per-message ``sequence`` and the ``delivery_id``
first, so a receiver can order a message's callbacks and drop repeats. The
composition root registers ``render`` for the messages this face accepts.
"""

from __future__ import annotations

import json

from jumbe.faces.rest.messages import message_json
from jumbe.services.events import StatusChanged

EVENT = "message.status"


def render(change: StatusChanged, delivery_id: str) -> str:
    return json.dumps(
        {
            "event": EVENT,
            "delivery_id": delivery_id,
            "sequence": change.sequence,
            **message_json(change),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
