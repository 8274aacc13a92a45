"""Routes and the dispatcher's claim policy, without a database or a carrier."""

from __future__ import annotations

import pytest

from jumbe.engine.dispatcher import claim_limit
from jumbe.engine.router import ClaimFilter, Router

ROUTES = {"safaricom": ["saf-1", "saf-2"], "airtel": ["airtel"]}
CONNECTORS = ["saf-1", "saf-2", "airtel", "bulk"]


def test_the_first_ready_connector_on_the_route_takes_the_traffic() -> None:
    router = Router(ROUTES, CONNECTORS)
    assert router.choose("safaricom", {"saf-1", "saf-2"}) == "saf-1"
    assert router.choose("safaricom", {"saf-2"}) == "saf-2"  # failover
    assert router.choose("safaricom", {"airtel"}) is None  # no route to another carrier's link


def test_carriers_without_a_route_take_the_default_route() -> None:
    router = Router(ROUTES | {"default": ["bulk"]}, CONNECTORS)
    assert router.choose("telkom", {"bulk", "saf-1"}) == "bulk"
    assert router.choose("telkom", {"saf-1"}) is None


def test_without_a_default_route_every_connector_serves_the_rest_in_order() -> None:
    router = Router(ROUTES, CONNECTORS)
    assert router.routes["default"] == tuple(CONNECTORS)
    assert router.choose("telkom", {"airtel", "bulk"}) == "airtel"


def test_claims_skip_carriers_whose_route_is_down() -> None:
    router = Router(ROUTES | {"default": ["bulk"]}, CONNECTORS)
    assert router.claim_filter({"saf-1", "airtel", "bulk"}) == ClaimFilter(None, ())
    assert router.claim_filter({"bulk", "saf-2"}) == ClaimFilter(None, ("airtel",))
    assert router.claim_filter({"bulk"}) == ClaimFilter(None, ("airtel", "safaricom"))


def test_with_the_default_route_down_only_routed_carriers_are_claimed() -> None:
    router = Router(ROUTES | {"default": ["bulk"]}, CONNECTORS)
    only = router.claim_filter({"saf-2"})
    assert only == ClaimFilter(("safaricom",), ())
    assert not only.nothing


def test_with_nothing_bound_nothing_is_claimed() -> None:
    router = Router(ROUTES | {"default": ["bulk"]}, CONNECTORS)
    assert router.claim_filter(set()).nothing


@pytest.mark.parametrize(
    ("room", "capacity", "batch", "thrifty", "limit"),
    [
        (0, 400, 500, False, 0),  # no room: no claim
        (-3, 400, 500, False, 0),
        (7, 400, 500, False, 7),  # the poll takes whatever is free
        (900, 1000, 500, False, 500),  # at most a batch
        (7, 400, 500, True, 0),  # woken: a sliver of room waits for the half-empty signal
        (200, 400, 500, True, 200),  # half the capacity free
        (500, 2000, 500, True, 500),  # a full batch free, though under half the capacity
    ],
)
def test_claim_limit(room: int, capacity: int, batch: int, thrifty: bool, limit: int) -> None:
    assert claim_limit(room=room, capacity=capacity, batch=batch, thrifty=thrifty) == limit
