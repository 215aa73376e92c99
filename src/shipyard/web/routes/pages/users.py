"""Users and their tokens, for admins: disable a user, revoke a token."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.services import users
from shipyard.web import session as sessions
from shipyard.web.deps import store_of
from shipyard.web.routes.pages.common import must, page, render

router = APIRouter(include_in_schema=False)


@router.get("/users")
@page
def users_page(request: Request, done: str = "") -> Response:
    who, s = sessions.require_login(request)
    must(request, who, "admin")
    return render(
        request, "users.html", who, s.csrf, users=users.list_users(store_of(request)), done=done
    )


def _admin_post(request: Request, csrf: str) -> str:
    """The admin acting (CSRF and role checked); their name."""
    who, s = sessions.require_login(request)
    sessions.check_csrf(s, csrf)
    must(request, who, "admin")
    return who.name


def _back(message: str) -> RedirectResponse:
    from urllib.parse import urlencode

    return RedirectResponse("/users?" + urlencode({"done": message}), status_code=303)


@router.post("/users/{name}/disable")
@page
def disable(request: Request, name: str, csrf: str = Form(""), enable: str = Form("")) -> Response:
    actor = _admin_post(request, csrf)
    users.set_disabled(store_of(request), name, not enable, actor=actor)
    request.app.state.principals.forget()  # at once on this server
    return _back(f"{name} {'enabled' if enable else 'disabled'}")


@router.post("/users/{name}/tokens/revoke")
@page
def revoke(request: Request, name: str, csrf: str = Form(""), token: str = Form("")) -> Response:
    actor = _admin_post(request, csrf)
    count = users.revoke_tokens(store_of(request), name, token or None, actor=actor)
    request.app.state.principals.forget()
    return _back(f"revoked {count} token(s) of {name}")
