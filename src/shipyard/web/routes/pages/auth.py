"""Static files, the start page, login and logout."""

from __future__ import annotations

import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from shipyard.web import session as sessions
from shipyard.web.deps import store_of
from shipyard.web.routes.pages.common import WEB, default_page, home, page, render, safe_next

router = APIRouter(include_in_schema=False)
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(css|js|svg|png|ico)$")


@router.get("/static/{name}")
def static(name: str) -> Response:
    path = WEB / "static" / name
    if not STATIC_NAME.match(name) or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})


@router.get("/")
def start(request: Request) -> RedirectResponse:
    return RedirectResponse(home(request), status_code=303)


@router.get("/login")
@page
def login_form(request: Request, next: str = "") -> Response:
    if sessions.current(request) is not None:
        return RedirectResponse(safe_next(next, default_page(request)), status_code=303)
    return _login_page(request, next)


def _login_page(request: Request, next: str, error: str = "", status: int = 200) -> Response:
    token = sessions.login_token(request)
    response = render(
        request,
        "login.html",
        status=status,
        login_csrf=token,
        next=safe_next(next, default_page(request)),
        error=error,
    )
    sessions.set_login_token(request, response, token)
    return response


@router.post("/login")
@page
def login(
    request: Request,
    token: str = Form(""),
    csrf: str = Form(""),
    next: str = Form(""),
) -> Response:
    from shipyard.web.token_use import signed_in

    sessions.check_csrf(None, csrf, expected=request.cookies.get(sessions.LOGIN_COOKIE))
    found = signed_in(store_of(request), token.strip()) if token.strip() else None
    if found is None:
        return _login_page(request, next, "That token is unknown or was revoked.", 401)
    response = RedirectResponse(safe_next(next, default_page(request)), status_code=303)
    sessions.sign_in(request, response, found.user.name, token.strip())
    return response


@router.post("/logout")
@page
def logout(request: Request, csrf: str = Form("")) -> Response:
    found = sessions.current(request)
    if found is not None:
        sessions.check_csrf(found[1], csrf)
    response = RedirectResponse("/login", status_code=303)
    sessions.sign_out(response)
    return response
