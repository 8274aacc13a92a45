"""Errors raised by services; every face maps them to its own wire format.

The ``code`` is the stable, face-neutral name of what went wrong; the message
is a sentence a developer can act on. Faces must not invent their own rules
on top of these: a REST 402 and an SMPP ESME_RMSGQFUL come from the same raise.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ServiceError):
    code = "invalid_request"


class Unauthenticated(ServiceError):
    code = "unauthenticated"


class Forbidden(ServiceError):
    code = "forbidden"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class InsufficientBalance(ServiceError):
    code = "insufficient_balance"


class QueueFull(ServiceError):
    """The operator's queue for this recipient (an IoT SIM) is full: "rejected by operator"."""

    code = "queue_full"


class TooManyAttempts(ServiceError):
    """Refused for now; every face tells the client to wait ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownSender(InvalidRequest):
    code = "unknown_sender"


class RefusedCallbackUrl(InvalidRequest):
    """A callback URL we will not call (its scheme, port or where it points)."""

    code = "invalid_callback_url"


class SenderNotOnCarrier(UnknownSender):
    """The sender ID is approved, but not on the recipient's carrier (network).

    Every face refuses it in its own words (Kimisms: "The recipient's network
    must match the Sender ID's provider"); ``approved_on`` names the carriers
    where it may be used.
    """

    code = "sender_not_on_carrier"

    def __init__(self, name: str, carrier: str, approved_on: tuple[str, ...]) -> None:
        super().__init__(
            f"sender ID {name!r} is approved on {', '.join(approved_on)} only, and the"
            f" recipient's number is on {carrier}: the recipient's network must match"
            " the sender ID's carrier"
        )
        self.name = name
        self.carrier = carrier
        self.approved_on = approved_on


class InvalidRecipient(InvalidRequest):
    code = "invalid_recipient"


class MessageTooLong(InvalidRequest):
    code = "message_too_long"


class NotPermitted(Forbidden):
    """The user named in a request may not do this operation on the account's SIMs."""

    code = "not_permitted"


class EmailNotVerified(Forbidden):
    """Right password, but the address was never verified: no session until it is."""

    code = "email_not_verified"


class ForeignAccount(Forbidden):
    """The request names an account number that exists but is not the caller's."""

    code = "foreign_account"


class UnknownAccount(NotFound):
    code = "unknown_account"


class UnknownSim(NotFound):
    """No SIM with that number in the caller's account (whether it exists elsewhere or not)."""

    code = "unknown_sim"
