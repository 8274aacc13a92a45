"""Request size and time limits on HTTP, tried with raw sockets as an attacker would.

Bodies are capped per route (64 KiB for the JSON faces, the upload cap for CSV imports)
and refused with 413 in each face's own format before they are read; a head or body
that trickles in is cut off with 408; a connection that never says anything is closed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.faces.http_limits import LINGER
from jumbe.settings import Settings

HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
UPLOAD_CAP = 200 * 1024


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[Jumbe]:
    """A server with short deadlines and a small upload cap, so tests take seconds."""
    app = Jumbe(
        settings.model_copy(
            update={
                "http_header_timeout": HEAD_TIMEOUT,
                "http_body_timeout": BODY_TIMEOUT,
                "http_max_upload": UPLOAD_CAP,
            }
        )
    )
    await app.start()
    yield app
    await app.stop()


def token(app: Jumbe) -> str:
    assert app.demo is not None
    return app.demo.api_token


def exchange(port: int, head: bytes, body: bytes = b"", *, pause: float = 0.0) -> bytes:
    """Send a head (and some body after ``pause``), then read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        if pause:
            time.sleep(pause)
        if body:
            sock.sendall(body)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def split(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def post_head(
    path: str, length: int, auth: str = "", content_type: str = "application/json"
) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n{auth}\r\n"
    ).encode()


async def test_a_declared_10mb_body_is_refused_before_it_is_sent(guarded: Jumbe) -> None:
    auth = f"Authorization: Bearer {token(guarded)}\r\n"
    head = post_head("/api/v1/messages", 10 * 1024 * 1024, auth)
    # the answer comes although not one byte of the body was sent
    answer = await asyncio.to_thread(exchange, guarded.http_port, head)
    status, headers, body = split(answer)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body) == {
        "success": False,
        "error": "the request body is larger than 65536 bytes",
    }


async def test_a_chunked_body_over_the_cap_is_refused_in_each_faces_format(
    guarded: Jumbe,
) -> None:
    big = b"x" * (70 * 1024)
    chunked = f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"

    def post(path: str) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        status, _headers, body = split(exchange(guarded.http_port, head, chunked))
        return status, body

    status, body = await asyncio.to_thread(post, "/api/v1/messages")
    assert (status, json.loads(body)["success"]) == (413, False)
    status, body = await asyncio.to_thread(post, "/simportal/v1/allsims")
    assert status == 413
    assert json.loads(body)["errorCode"] == "413.001.01"
    status, body = await asyncio.to_thread(post, "/m2m/api")
    assert status == 413
    assert body.startswith(b"<error_response><api_outcome>failure</api_outcome>")
    status, body = await asyncio.to_thread(post, "/signin")  # a portal form
    assert status == 413
    assert body.startswith(b"<!doctype html>")


async def test_bodies_within_the_cap_are_served_as_before(guarded: Jumbe) -> None:
    headers = {"Authorization": f"Bearer {token(guarded)}"}
    async with httpx.AsyncClient(base_url=guarded.base_url, headers=headers) as client:
        sent = await client.post("/api/v1/messages", json={"to": "0712345678", "message": "Habari"})
        assert sent.status_code == 200
        # an upload may be far larger than a JSON body, up to its own cap
        rows = "".join(f"8925401401{n:010d},6390140{n:08d},3000{n:08d}\n" for n in range(3000))
        csv = "iccid,imsi,msisdn\n" + rows
        assert 64 * 1024 < len(csv) < UPLOAD_CAP
        imported = await client.post(
            "/api/v1/sims/import", content=csv, headers={"Content-Type": "text/csv"}
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["data"]["accepted"] == 3000
        over = await client.post(
            "/api/v1/sims/import",
            content=csv * 2,
            headers={"Content-Type": "text/csv"},
        )
        assert over.status_code == 413
        assert over.json()["error"] == f"the request body is larger than {UPLOAD_CAP} bytes"


async def test_a_trickled_head_is_cut_off(guarded: Jumbe) -> None:
    def trickle() -> tuple[bytes, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", guarded.http_port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
            try:
                for n in range(100):  # a header every 0.1 s: 10 s if nobody stops it
                    sock.sendall(f"X-Drip-{n}: a\r\n".encode())
                    time.sleep(0.1)
            except OSError:
                pass  # closed under our feet, as it should be
            return read_all_quietly(sock), time.monotonic() - started

    answer, took = await asyncio.to_thread(trickle)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    # answered at the deadline; what it still sends is dropped for a moment, then closed
    assert HEAD_TIMEOUT <= took < HEAD_TIMEOUT + LINGER + 1


def read_all_quietly(sock: socket.socket) -> bytes:
    try:
        return read_all(sock)
    except ConnectionResetError:
        return b""


async def test_a_silent_connection_is_closed(guarded: Jumbe) -> None:
    def silent() -> tuple[bytes, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", guarded.http_port), timeout=10) as sock:
            return read_all_quietly(sock), time.monotonic() - started

    answer, took = await asyncio.to_thread(silent)
    assert answer == b""
    assert HEAD_TIMEOUT <= took < HEAD_TIMEOUT + 2


async def test_a_kept_alive_connection_has_a_deadline_for_each_head(guarded: Jumbe) -> None:
    def second_request_trickles() -> bytes:
        with socket.create_connection(("127.0.0.1", guarded.http_port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            first = sock.recv(65536)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and the rest never comes
            return first + read_all_quietly(sock)

    answer = await asyncio.to_thread(second_request_trickles)
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )


async def test_an_oversized_head_is_refused(guarded: Jumbe) -> None:
    def huge_head() -> bytes:
        with socket.create_connection(("127.0.0.1", guarded.http_port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
            try:
                for _ in range(40):
                    sock.sendall(b"X-Big: " + b"a" * 4096 + b"\r\n")
            except OSError:
                pass
            return read_all_quietly(sock)

    answer = await asyncio.to_thread(huge_head)
    assert answer.startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/messages", "application/json"),
        ("/simportal/v1/allsims", "application/json"),
        ("/api/v1/sims/import", "text/csv"),
    ],
)
async def test_a_stalled_body_times_out(guarded: Jumbe, path: str, content_type: str) -> None:
    auth = f"Authorization: Bearer {token(guarded)}\r\n"

    def stall() -> tuple[bytes, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", guarded.http_port), timeout=10) as sock:
            sock.sendall(post_head(path, 1000, auth, content_type) + b"iccid,imsi,")
            return read_all_quietly(sock), time.monotonic() - started

    answer, took = await asyncio.to_thread(stall)
    status, headers, _body = split(answer)
    assert status == 408
    assert headers["connection"] == "close"
    assert BODY_TIMEOUT <= took < BODY_TIMEOUT + 2


async def test_a_trickled_json_body_has_one_deadline_for_the_whole(guarded: Jumbe) -> None:
    """A byte every 0.2 s never pauses long, yet the body must be whole in time."""
    auth = f"Authorization: Bearer {token(guarded)}\r\n"

    def trickle() -> bytes:
        with socket.create_connection(("127.0.0.1", guarded.http_port), timeout=10) as sock:
            sock.sendall(post_head("/api/v1/messages", 100, auth))
            try:
                for _ in range(100):
                    sock.sendall(b" ")
                    time.sleep(0.2)
            except OSError:
                pass
            return read_all_quietly(sock)

    status, _headers, body = split(await asyncio.to_thread(trickle))
    assert status == 408
    assert json.loads(body)["error"] == "the request body did not arrive within 1 seconds"


async def test_the_server_keeps_serving_others_meanwhile(guarded: Jumbe) -> None:
    sockets = [
        socket.create_connection(("127.0.0.1", guarded.http_port), timeout=HEAD_TIMEOUT + 5)
        for _ in range(50)
    ]
    try:
        for s in sockets:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
        async with httpx.AsyncClient(base_url=guarded.base_url) as client:
            assert (await client.get("/healthz")).status_code == 200
        answers = await asyncio.to_thread(lambda: [read_all_quietly(s) for s in sockets])
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers)
    finally:
        for s in sockets:
            s.close()
