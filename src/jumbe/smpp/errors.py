"""Exceptions of the SMPP library.

Each carries the SMPP status a peer should be answered with, so callers never have to translate
Python exceptions back into protocol codes.
"""

from jumbe.smpp.constants import CommandStatus


class SmppError(Exception):
    """Base of everything this library raises on purpose."""


class SessionClosed(SmppError):
    """The connection ended before the awaited response arrived."""


class ResponseTimeout(SmppError):
    """The peer did not answer a request in time; its window slot has been freed."""


class BindFailed(SmppError):
    def __init__(self, command_status: int) -> None:
        self.command_status = command_status
        super().__init__(f"bind refused with command_status 0x{command_status:08X}")


class PduError(SmppError):
    """A frame could not be decoded; ``command_status`` is the code to answer it with."""

    def __init__(
        self,
        message: str,
        *,
        command_id: int,
        sequence_number: int,
        command_status: int = CommandStatus.ESME_RSYSERR,
    ) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.command_status = command_status


class FrameLengthError(SmppError):
    """A command_length no frame can have: the byte stream cannot be resynchronised."""

    def __init__(self, command_length: int, sequence_number: int) -> None:
        super().__init__(f"impossible command_length {command_length}")
        self.command_length = command_length
        self.sequence_number = sequence_number
