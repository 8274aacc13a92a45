"""Cutting a TCP byte stream into SMPP frames.

Kept apart from the session so the only place that trusts command_length is small enough to
reason about: a bad length means the stream cannot be resynchronised, so it is reported as an
error for the caller to close the connection, never skipped.
"""

from __future__ import annotations

import struct

from jumbe.smpp.errors import FrameLengthError

_U32 = struct.Struct(">I")
_LENGTH_AND_SEQ = struct.Struct(">I8xI")
MIN_FRAME = 16
DEFAULT_MAX_FRAME = 65536


class FrameReader:
    """Accumulates received bytes and hands out whole frames one at a time.

    Frames are taken one by one (not all at once) so the session can stop mid-buffer when its
    inbound window is full and resume later without losing or copying what is left.
    """

    __slots__ = ("_buffer", "_max", "_pos")

    def __init__(self, max_pdu_length: int = DEFAULT_MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._max = max_pdu_length

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def __len__(self) -> int:
        return len(self._buffer) - self._pos

    def next_frame(self) -> bytes | None:
        """The next complete frame, or None until more bytes arrive.

        Raises FrameLengthError when a header announces a length no frame can have; the length is
        checked as soon as its 4 octets are in, so a garbage stream is refused without waiting.
        """
        buf = self._buffer
        pos = self._pos
        available = len(buf) - pos
        if available < 4:
            return None
        (length,) = _U32.unpack_from(buf, pos)
        if length < MIN_FRAME or length > self._max:
            seq = _LENGTH_AND_SEQ.unpack_from(buf, pos)[1] if available >= MIN_FRAME else 0
            raise FrameLengthError(length, seq)
        if available < length:
            return None
        self._pos = pos + length
        return bytes(buf[pos : pos + length])
