"""Which connector carries a message to which carrier.

Routes map a carrier slug (``safaricom``, ``airtel``, …) to an ordered list of
connectors: the first one that is bound takes the traffic, the others are
failover. The ``default`` route serves carriers with no route of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    """Which carriers the dispatcher may claim for, given the connectors that are up."""

    include: tuple[str, ...] | None  # None: any carrier not excluded
    exclude: tuple[str, ...]

    @property
    def nothing(self) -> bool:
        return self.include is not None and not self.include


class Router:
    def __init__(self, routes: Mapping[str, Sequence[str]], connectors: Collection[str]) -> None:
        self.routes = {carrier: tuple(names) for carrier, names in routes.items()}
        if DEFAULT not in self.routes:
            self.routes[DEFAULT] = tuple(connectors)

    def choose(self, carrier: str, ready: Collection[str]) -> str | None:
        """The connector for a carrier: the first ready one on its route, else None."""
        for name in self.routes.get(carrier, self.routes[DEFAULT]):
            if name in ready:
                return name
        return None

    def claim_filter(self, ready: Collection[str]) -> ClaimFilter:
        up = {c for c, names in self.routes.items() if any(n in ready for n in names)}
        explicit = set(self.routes) - {DEFAULT}
        if DEFAULT in up:
            return ClaimFilter(include=None, exclude=tuple(sorted(explicit - up)))
        return ClaimFilter(include=tuple(sorted(up & explicit)), exclude=())
