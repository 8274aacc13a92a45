"""The operator's staff pages: sign in, the sender ID review queue, offline top-up approvals.

A staff session is signed for another audience with another key than a
customer's (``services.staff``), and kept in its own cookie: a customer's
session never opens these pages, nor a staff session a customer's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from jumbe.core.sender_names import NEXT, ReviewState
from jumbe.faces.portal.pages import download
from jumbe.faces.portal.web import (
    STAFF_COOKIE,
    PortalRoute,
    checked_form,
    redirect,
    render,
    safe_next,
    services,
    sign_in,
    staff_member,
    text,
)
from jumbe.services.senders import Actor
from jumbe.services.signed_tokens import IssuedSession

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

HOME = "/staff/senders"


@router.get("/staff/signin")
async def signin_page(request: Request, next: str = "") -> Response:
    return render(request, "staff_signin.html", {"next": safe_next(next, HOME)})


@router.post("/staff/signin")
async def signin(request: Request) -> Response:
    found = services(request).staff

    async def login(email: str, password: str, client: str) -> IssuedSession:
        return await found.login(email, password, client=client)

    return await sign_in(
        request, login, template="staff_signin.html", cookie=STAFF_COOKIE, home=HOME
    )


@router.post("/staff/signout")
async def signout(request: Request) -> Response:
    await checked_form(request)
    answer = redirect("/staff/signin")
    answer.delete_cookie(STAFF_COOKIE, path="/")
    return answer


@router.get("/staff/senders")
async def queue(request: Request, status: str = "") -> Response:
    await staff_member(request)
    found, total = await services(request).senders.applications(
        None, status=status[:32] or None, page_size=100
    )
    context = {"applications": found, "total": total, "status": status}
    return render(request, "staff_senders.html", context)


@router.get("/staff/senders/{uuid}")
async def application(request: Request, uuid: str) -> Response:
    await staff_member(request)
    found = await services(request).senders.application(None, uuid[:64])
    moves = sorted(NEXT[ReviewState(found.status)])
    return render(
        request,
        "staff_application.html",
        {"application": found, "moves": moves, "document_base": "/staff/senders"},
    )


@router.get("/staff/senders/{uuid}/documents/{document}")
async def document(request: Request, uuid: str, document: str) -> Response:
    await staff_member(request)
    found, path = await services(request).senders.document(None, uuid[:64], document[:64])
    return download(found.filename, found.content_type, str(path))


@router.post("/staff/senders/{uuid}/review")
async def review(request: Request, uuid: str) -> Response:
    staff = await staff_member(request)
    form = await checked_form(request)
    await services(request).senders.review(
        Actor.of_staff(staff), uuid[:64], text(form, "to", 32), text(form, "reason", 500) or None
    )
    return redirect(f"/staff/senders/{uuid[:64]}")


@router.get("/staff/topups")
async def topups(request: Request) -> Response:
    staff = await staff_member(request)
    found, total = await services(request).topups.list_for_staff(
        staff, status="pending", page_size=100
    )
    return render(request, "staff_topups.html", {"topups": found, "total": total})


@router.post("/staff/topups/{uuid}/review")
async def review_topup(request: Request, uuid: str) -> Response:
    staff = await staff_member(request)
    form = await checked_form(request)
    await services(request).topups.review(
        staff,
        uuid[:64],
        approve=text(form, "decision", 16) == "approve",
        reason=text(form, "reason", 500),
    )
    return redirect("/staff/topups")
