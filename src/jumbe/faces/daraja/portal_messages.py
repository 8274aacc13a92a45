"""How the SIM portal's messaging operations show messages: rows and Spring pages.

processingStatus is a digit per status of the shared pipeline, the
documents showing "0" for a queued message and "1" for one handed to the
carrier; the rest follow in the pipeline's order (see the README's table).
receiptId says whether the device's receipt came back: -1 not yet, 1
delivered, 0 a final failure.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from jumbe.core.status import MessageStatus
from jumbe.faces.daraja.wire import BadPayload, day_time
from jumbe.services.device_messages import DeviceMessage

PROCESSING_STATUS = {
    MessageStatus.ACCEPTED: "0",
    MessageStatus.SENT: "1",
    MessageStatus.DELIVERED: "2",
    MessageStatus.FAILED: "3",
    MessageStatus.EXPIRED: "4",
    MessageStatus.CANCELLED: "5",
    MessageStatus.RECEIVED: "6",
}
_BY_CODE = {code: status for status, code in PROCESSING_STATUS.items()}
_DESCRIPTION = {MessageStatus.ACCEPTED: "-"}  # the others are the status's own word
_NO_RECEIPT_YET = frozenset({MessageStatus.ACCEPTED, MessageStatus.SENT, MessageStatus.RECEIVED})
# sourceSystem: the face a message came through; a device's reply comes from the device
_SOURCE_SYSTEM = {"carrier": "device"}


def status_of(code: str) -> MessageStatus:
    """The status a processingStatus code names; BadPayload for an unknown code."""
    found = _BY_CODE.get(code)
    if found is None:
        raise BadPayload(f"status must be one of {', '.join(sorted(_BY_CODE))}, got {code!r}")
    return found


def _receipt_id(status: MessageStatus) -> int:
    if status in _NO_RECEIPT_YET:
        return -1
    return 1 if status is MessageStatus.DELIVERED else 0


def message_row(m: DeviceMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "receiptId": _receipt_id(m.status),
        "sourceAddr": m.sender,
        "msisdn": m.sim_msisdn,
        "message": m.body,
        "sourceSystem": _SOURCE_SYSTEM.get(m.source, m.source),
        "processingStatus": PROCESSING_STATUS[m.status],
        "messageId": m.carrier_message_id or "-",
        "date": day_time(m.created_at),
        "deliverTime": day_time(m.status_at) if m.status is MessageStatus.DELIVERED else "-",
        "description": _DESCRIPTION.get(m.status, m.status.value),
        "vpnGroup": m.vpn_group,
    }


def spring_page(content: list[Any], page_no: int, page_size: int, total: int) -> dict[str, Any]:
    """A Spring Data page, as the documents show it: numbered from 0, sorted."""
    sort = {"sorted": True, "unsorted": False, "empty": False}
    number = page_no - 1
    pages = ceil(total / page_size)
    return {
        "content": content,
        "pageable": {
            "pageNumber": number,
            "pageSize": page_size,
            "sort": sort,
            "offset": number * page_size,
            "paged": True,
            "unpaged": False,
        },
        "totalPages": pages,
        "totalElements": total,
        "last": number >= pages - 1,
        "size": page_size,
        "number": number,
        "sort": sort,
        "numberOfElements": len(content),
        "first": number == 0,
        "empty": not content,
    }
