"""Property-based fuzzing of every HTTP operation against a real running server.

schemathesis reads the server's own /openapi.json and generates requests for
every operation of the REST v1, Daraja (OAuth, SIM portal, IMSI) and M2M XML
faces and the Kimisms API, valid and invalid by the schemas, sent with valid credentials of
tenant A (see ``api_world``). Each answer
must be no server error and must match the published document: a declared
status, content type and body schema. The one 5xx allowed is the Daraja
document's own ``500 … EV-FilterMessages`` fault for a payload it cannot read.

``make test`` runs a small, derandomised number of examples per operation;
``make fuzz`` runs many more (JUMBE_FUZZ_EXAMPLES), with fresh randomness.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from jumbe.app import Jumbe
from jumbe.faces import daraja, kimisms, m2m
from jumbe.faces.daraja.gateway import EXTRACT_VARIABLES_FAILED
from jumbe.faces.rest.app import create_app
from jumbe.settings import load_settings
from tests.conftest import running
from tests.integration.api_world import World, build_world

EXAMPLES = int(os.environ.get("JUMBE_FUZZ_EXAMPLES", "6"))
THOROUGH = "JUMBE_FUZZ_EXAMPLES" in os.environ
CHECKS = [
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
T = TypeVar("T")


@schemathesis.serializer("application/xml")
def raw_xml(_context: Any, value: Any) -> bytes:
    """The M2M face's documents as generated, not wrapped in schemathesis' own <data> root."""
    return value.encode() if isinstance(value, str) else str(value).encode()


class ServerThread:
    """A started Jumbe on its own event loop, so hypothesis can drive it from this thread."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = load_settings(
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'jumbe.db'}",
            http_port=0,
            simulator_port=0,
            smpp_port=0,
            node_id="fuzz-node",
        )
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.app: Jumbe | None = None
        self.failure: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test thread
            self.failure = exc
            self.ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with running(self.settings) as app:
            self.app = app
            self.ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.ready.wait(60)
        if self.failure is not None or self.app is None:
            raise RuntimeError("the server did not start") from self.failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, World]]:
    with ServerThread(tmp_path_factory.mktemp("fuzz")) as started:
        assert started.app is not None
        yield started, started.run(build_world(started.app))


def _published_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, from the faces' routers as the server mounts them."""
    app = create_app(None, readiness=None, refresh_metrics=None, carriers=None)  # type: ignore[arg-type]
    app.include_router(daraja.router)
    app.include_router(m2m.router)
    app.include_router(kimisms.router)
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


OPERATIONS = _published_operations()


@pytest.fixture(scope="module")
def api_schema(server: tuple[ServerThread, World]) -> Any:
    started, _world = server
    assert started.app is not None
    spec = httpx.get(f"{started.app.base_url}/openapi.json", timeout=30).json()
    served = {(m.upper(), p) for p, operations in spec["paths"].items() for m in operations}
    assert served == set(OPERATIONS)  # nothing the server publishes escapes the fuzz
    return schemathesis.openapi.from_dict(spec)


def credentials(path: str, world: World) -> dict[str, str]:
    """Tenant A's valid credential of the kind the operation takes."""
    a = world.a
    if path.startswith("/api/v1/team/") or path == "/api/v1/auth/me":
        return a.team
    if path.startswith("/api/v1/staff/accounts"):
        return {"Authorization": f"Bearer {world.staff_session}"}
    if path.startswith(("/simportal/", "/imsi/")):
        return a.daraja
    if path.startswith("/oauth/"):
        return a.basic
    if path == "/api/send-sms":
        return a.kimisms
    if path.startswith("/api/v1/"):
        return a.api
    return {}


def aim(case: Any, world: World, data: st.DataObject) -> None:
    """Point a generated request at A's real things, so it gets past "no such account".

    Random account numbers, SIMs and uuids only ever meet the first check; half
    the examples carry A's own vpnGroup, username, SIM numbers and uuids instead,
    keeping every other generated value as it was.
    """
    a = world.a
    if case.path_parameters and "uuid" in case.path_parameters:
        owned = {"messages": a.message_uuid, "team": a.member_uuid, "tokens": a.token_uuid}
        case.path_parameters["uuid"] = owned[case.path.split("/")[3]]
    if case.path == "/m2m/api":
        call = data.draw(st.sampled_from(["send_sms", "query_sms_mt_details"]))
        text = data.draw(st.text(max_size=40).filter(lambda t: "<" not in t and "&" not in t))
        case.body = (
            f'<{call} version="1" api_id="7"><authentication>'
            f"<username>{a.account.m2m_username}</username>"
            f"<password>{a.account.m2m_password}</password></authentication>"
            f"<iccid>{data.draw(st.sampled_from(a.iccids))}</iccid>"
            f"<message_text>{text}</message_text><lastx>{data.draw(st.integers(0, 25))}</lastx>"
            f"</{call}>"
        )
        return
    if not isinstance(case.body, dict):
        return
    mine = {
        "vpnGroup": a.account.vpn_group,
        "username": a.account.username,
        "msisdn": data.draw(st.sampled_from(a.msisdns)),
        "searchValue": data.draw(st.sampled_from(a.msisdns)),
        "id": a.device_message_id,
        "to": data.draw(st.sampled_from(["+254712345678", "0722000000", "254110000000"])),
        "contact": data.draw(st.sampled_from(["254712345678", "0722000000", "712345678"])),
        "sender_name": a.account.sender_ids[0],
        "client_id": a.account.oauth_client_id,
        "client_secret": a.account.oauth_client_secret,
        "grant_type": "client_credentials",
    }
    for name in ("callback_url", "sender_id"):  # each has its own rules, tested elsewhere
        case.body.pop(name, None)
    for name, value in mine.items():
        if name in case.body:
            case.body[name] = value


def documented_fault(path: str, response: Any) -> bool:
    """The Daraja document's own 500 for a payload it cannot extract variables from."""
    if not path.startswith("/simportal/") or response.status_code != 500:
        return False
    fault = response.json().get("fault", {})
    return bool(fault.get("faultstring") == EXTRACT_VARIABLES_FAILED)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_answers_without_server_errors_as_published(
    method: str, path: str, server: tuple[ServerThread, World], api_schema: Any
) -> None:
    started, world = server
    assert started.app is not None
    base_url = started.app.base_url

    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases, data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not THOROUGH,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any, data: st.DataObject) -> None:
        if data.draw(st.booleans(), label="aimed at tenant A's own things"):
            aim(case, world, data)
        headers = {**(case.headers or {}), **credentials(path, world)}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code >= 500:
            assert documented_fault(path, response), (
                f"{method} {case.formatted_path} answered {response.status_code}: "
                f"{response.text[:500]}\n{case.as_curl_command()}"
            )
        case.validate_response(response, checks=CHECKS)

    call()
