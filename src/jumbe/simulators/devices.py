"""Devices that are switched off or out of coverage, and the messages the SMSC keeps for them.

A real SMSC accepts a message for an unreachable handset or IoT device (store-and-forward),
keeps it, and tries again until the device attaches or the message's validity period ends;
only then does the delivery receipt go out. Jumbe's IoT messaging relies on exactly that, so
the simulator models it: a message to an offline device waits here, and leaves either when
the device comes back (in submit order) or when its own validity ends, whichever is first.

Nothing here knows what a message is: the carrier hands in opaque items and gets them back
through two callbacks. Memory is one small record and one timer per held item, released the
moment the item leaves; a device that is offline costs one entry until it comes back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from jumbe.core.clock import utcnow
from jumbe.core.sim_identifiers import international, iot_msisdn

__all__ = ["DeviceView", "OfflineDevices", "device_number"]

T = TypeVar("T")


def device_number(raw: str) -> str:
    """The international form the SMSC sees on the wire (254300000003036), from either the
    national (300000003036) or the international form, with or without '+'. A handset typed
    with its trunk 0 (0712345678) works too: no Kenyan national number starts with 0.

    Raises ValueError (InvalidIdentifier) with a reason fit to show to whoever typed it.
    """
    raw = raw.strip()
    if raw[:1] == "0" and raw[1:2] != "0":
        raw = raw[1:]
    return international(iot_msisdn(raw))


@dataclass(frozen=True, slots=True)
class DeviceView:
    """An offline device as the control API shows it."""

    msisdn: str
    held: int
    back_at: datetime | None  # None: offline until told otherwise


@dataclass(slots=True)
class _Held(Generic[T]):
    item: T
    expiry: asyncio.TimerHandle


@dataclass(slots=True)
class _Device(Generic[T]):
    held: dict[int, _Held[T]] = field(default_factory=dict)  # insertion order = submit order
    back_at: float | None = None  # loop.time() at which it comes back by itself
    comeback: asyncio.TimerHandle | None = None


class OfflineDevices(Generic[T]):
    """The offline set and what is held for it; ``release`` and ``expire`` are called once per
    held item, from the event loop, in the order the items leave."""

    def __init__(self, *, release: Callable[[T], None], expire: Callable[[T], None]) -> None:
        self._release = release
        self._expire = expire
        self._devices: dict[str, _Device[T]] = {}
        self._keys = itertools.count()
        self._held = 0

    @property
    def held(self) -> int:
        return self._held

    @property
    def offline(self) -> int:
        return len(self._devices)

    def holds(self, destination: str) -> bool:
        """Whether a message to this wire address must wait: one dict lookup, none at all
        while every device is online (the usual case on the hot path)."""
        return bool(self._devices) and destination.removeprefix("+") in self._devices

    def hold(self, destination: str, item: T, validity: float) -> None:
        """Keep ``item`` until its device comes back or ``validity`` seconds pass."""
        device = self._devices[destination.removeprefix("+")]
        key = next(self._keys)
        timer = asyncio.get_running_loop().call_later(validity, self._expired, device, key)
        device.held[key] = _Held(item, timer)
        self._held += 1

    def take_offline(self, msisdn: str, for_seconds: float | None = None) -> DeviceView:
        """Mark a device unreachable, for ``for_seconds`` or until ``bring_online``.

        Asking again replaces the period (None: indefinitely) and keeps what is held.
        """
        number = device_number(msisdn)
        device = self._devices.setdefault(number, _Device())
        if device.comeback is not None:
            device.comeback.cancel()
            device.comeback, device.back_at = None, None
        if for_seconds is not None:
            loop = asyncio.get_running_loop()
            device.comeback = loop.call_later(for_seconds, self.bring_online, number)
            device.back_at = loop.time() + for_seconds
        return self._view(number, device)

    def bring_online(self, msisdn: str) -> int:
        """The device attaches: everything held for it is released, oldest first.

        Returns how many items were released; 0 for a device that was not offline.
        """
        device = self._devices.pop(device_number(msisdn), None)
        if device is None:
            return 0
        if device.comeback is not None:
            device.comeback.cancel()
        for held in device.held.values():
            held.expiry.cancel()
        self._held -= len(device.held)
        for held in device.held.values():
            self._release(held.item)
        return len(device.held)

    def views(self) -> list[DeviceView]:
        return [self._view(number, device) for number, device in self._devices.items()]

    def close(self) -> None:
        """Cancel every timer (the simulator is stopping); held items are dropped."""
        for device in self._devices.values():
            if device.comeback is not None:
                device.comeback.cancel()
            for held in device.held.values():
                held.expiry.cancel()
        self._devices.clear()
        self._held = 0

    def _expired(self, device: _Device[T], key: int) -> None:
        held = device.held.pop(key, None)
        if held is not None:
            self._held -= 1
            self._expire(held.item)

    @staticmethod
    def _view(number: str, device: _Device[T]) -> DeviceView:
        back_at = None
        if device.back_at is not None:
            remaining = device.back_at - asyncio.get_running_loop().time()
            back_at = utcnow() + timedelta(seconds=max(remaining, 0.0))
        return DeviceView(number, len(device.held), back_at)
