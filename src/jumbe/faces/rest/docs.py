"""``/docs``: Swagger UI served from Jumbe's own files, so it works offline.

FastAPI's default page loads Swagger UI from a public CDN and is blank on a
machine without internet; here the page and every asset it loads come from
this server (``static/swagger-ui``, vendored by ``scripts/vendor_swagger_ui.py``
at a pinned version, recorded in ``static/VENDORED.md``). The online validator
badge is off: it would call out to validator.swagger.io.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
ASSETS = Path(__file__).parent / "static" / "swagger-ui"


def install(app: FastAPI, *, path: str = "/docs", openapi_url: str = "/openapi.json") -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="swagger-ui")

    @app.get(path, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API documentation",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
