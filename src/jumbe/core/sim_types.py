"""What each kind of SIM can do with SMS.

Vendors differ: some SIMs take binary (8-bit) SMS, some let the sender choose
the origin number replies go to, some (open user groups) take no API SMS at
all. Messaging checks a SIM's type before it accepts a message for it.
"""

from dataclasses import dataclass

__all__ = ["DEFAULT_SIM_TYPE", "SIM_TYPES", "SimType", "sim_type"]


@dataclass(frozen=True, slots=True)
class SimType:
    name: str
    sms: bool  # takes SMS sent through the APIs at all
    binary_sms: bool  # takes 8-bit (base64 on the wire) messages
    custom_origin: bool  # the sender may choose the origin number


SIM_TYPES: dict[str, SimType] = {
    t.name: t
    for t in (
        SimType("standard", sms=True, binary_sms=False, custom_origin=False),
        SimType("binary", sms=True, binary_sms=True, custom_origin=False),
        SimType("custom_origin", sms=True, binary_sms=False, custom_origin=True),
        SimType("binary_custom_origin", sms=True, binary_sms=True, custom_origin=True),
        SimType("data_only", sms=False, binary_sms=False, custom_origin=False),
    )
}
DEFAULT_SIM_TYPE = SIM_TYPES["standard"]


def sim_type(name: str) -> SimType:
    """The type called ``name`` (any case); ValueError naming the known ones otherwise."""
    found = SIM_TYPES.get(name.strip().lower())
    if found is None:
        raise ValueError(f"unknown sim_type {name!r}: use one of {', '.join(SIM_TYPES)}")
    return found
