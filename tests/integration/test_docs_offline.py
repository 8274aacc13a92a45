"""/docs works offline: the page loads only this server's own assets, and they are served."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urljoin

import httpx

from jumbe.app import Jumbe
from jumbe.faces.rest import docs

VENDORED = docs.ASSETS.parent / "VENDORED.md"


async def test_docs_reference_only_local_assets_and_each_is_served(
    jumbe: Jumbe, demo: httpx.AsyncClient
) -> None:
    page = await demo.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    urls = re.findall(r"url:\s*'([^']+)'", html)
    assert references and urls == ["/openapi.json"]
    assert "//" not in "".join(references + urls), references  # no other host, no CDN
    assert '"validatorUrl": null' in html  # the validator badge would call out
    for reference in references + urls:
        asset = await demo.get(urljoin("/docs", reference))
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0
    js = await demo.get(f"{docs.ASSETS_PATH}/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]


def test_vendored_files_are_the_recorded_ones() -> None:
    """What is committed is what the vendoring script verified and recorded."""
    recorded = dict(
        re.findall(r"\| `swagger-ui/([^`]+)` \| `([0-9a-f]{64})` \|", VENDORED.read_text())
    )
    assert set(recorded) == {p.name for p in docs.ASSETS.iterdir()}
    for name, digest in recorded.items():
        assert hashlib.sha256(Path(docs.ASSETS, name).read_bytes()).hexdigest() == digest, name
    assert "Apache-2.0" in VENDORED.read_text()
