"""The services a face's HTTP app was built with, typed.

Starlette keeps ``app.state`` untyped; reading it through one function keeps
the ``Any`` at this border instead of in every handler.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from jumbe.services import Services


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)
