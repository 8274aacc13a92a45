"""The web portal: the customer's and the staff's pages, one more face over the services.

Server-rendered (Jinja2), at ``/`` beside the APIs, outside the OpenAPI
schema. Its only scripts are our own (``static/portal.js``): no CDN, no
Node, nothing fetched at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from jumbe.faces.portal import account, pages, staff, team
from jumbe.faces.portal.pages import APPLICATIONS
from jumbe.faces.portal.web import HERE, refuse

__all__ = ["APPLICATIONS", "SmppDetails", "install", "refuse", "router"]

STATIC = "/static/portal"

router = APIRouter()
router.include_router(account.router)
router.include_router(pages.router)
router.include_router(team.router)
router.include_router(staff.router)


@dataclass(frozen=True, slots=True)
class SmppDetails:
    """Where customers bind, for the Developer page."""

    host: str
    ports: tuple[int, ...]


def install(
    app: FastAPI, *, smpp: Callable[[], SmppDetails] | None = None, https: bool = False
) -> None:
    """``https``: the portal is reached over https although this server speaks http (a TLS
    proxy in front, JUMBE_PUBLIC_URL https://…): its cookies are Secure all the same."""
    app.state.portal_smpp = smpp
    app.state.portal_https = https
    app.include_router(router)
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="portal-static")
