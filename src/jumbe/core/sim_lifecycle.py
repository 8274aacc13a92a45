"""The SIM lifecycle: which states exist and which changes between them are allowed.

Every lifecycle change (activation, suspension, resumption, an operator's
move) asks ``can_move`` first and then updates the SIM only if its state is
still the one it asked about; the table below is the single place that decides
what may happen to a SIM.
"""

from enum import StrEnum

__all__ = [
    "ARRIVAL_STATES",
    "SimState",
    "can_move",
    "parse_state",
]


class SimState(StrEnum):
    IDLE = "idle"  # delivered to the account, never used
    POOLED = "pooled"  # in the account's pool, ready to be activated
    ACTIVE = "active"  # in service
    SUSPENDED = "suspended"  # barred for now; resumable
    TERMINATED = "terminated"  # retired for good; its numbers may not come back

    @property
    def label(self) -> str:
        """The word the Safaricom faces use: Idle, Pooled, Active, ..."""
        return self.value.capitalize()


_NEXT: dict[SimState, frozenset[SimState]] = {
    SimState.IDLE: frozenset({SimState.POOLED, SimState.ACTIVE, SimState.TERMINATED}),
    SimState.POOLED: frozenset({SimState.IDLE, SimState.ACTIVE, SimState.TERMINATED}),
    SimState.ACTIVE: frozenset({SimState.SUSPENDED, SimState.TERMINATED}),
    SimState.SUSPENDED: frozenset({SimState.ACTIVE, SimState.TERMINATED}),
}
assert SimState.TERMINATED not in _NEXT

# The states a SIM may have when it arrives in an account (a batch import).
ARRIVAL_STATES: frozenset[SimState] = frozenset(
    {SimState.IDLE, SimState.POOLED, SimState.ACTIVE, SimState.SUSPENDED}
)


def can_move(old: SimState, new: SimState) -> bool:
    return new in _NEXT.get(old, frozenset())


def parse_state(text: str) -> SimState:
    """A state from any capitalisation of its name ('Active', 'active'); ValueError otherwise."""
    try:
        return SimState(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in SimState)
        raise ValueError(f"unknown SIM state {text!r}: use one of {names}") from None
