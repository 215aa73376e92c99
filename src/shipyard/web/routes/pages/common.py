"""What every dashboard page shares: rendering, the ``page`` decorator, sessions, roles.

Pages of one app live under ``/apps/{app}``; ``render`` gives every template the
app being shown (``current_app``, ``app_home``) so that its links stay in that app.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from shipyard.config.settings import links_of
from shipyard.core import states as st
from shipyard.core.builds import shown as build_shown
from shipyard.core.links import Links
from shipyard.core.permissions import allowed_roles, may
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.fleet import Fleet
from shipyard.web import humanize
from shipyard.web import session as sessions
from shipyard.web.deps import Principal, context_for, fleet_of, roles_of

WEB = Path(__file__).resolve().parents[2]
STATE_LABELS = {st.WAITING_ARTIFACT: "waiting for artifact", st.ROLLING_OUT: "rolling out"}
P = ParamSpec("P")
# Pages load only their own scripts and styles, and no other site may frame them
# (a framed Deploy button could be clicked by a trick).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
SAFE_NEXT = re.compile(r"/(?![/\\])[\w\-./?=&%#+]*", re.ASCII)


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- rendering ------------------------------------------------------------------------------------


@functools.cache
def _jinja() -> jinja2.Environment:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB / "templates"), autoescape=True, auto_reload=False
    )
    env.filters.update(
        short=lambda sha: (sha or "")[:7],
        when=_when,
        ago=humanize.ago,
        duration=humanize.duration,
        took=humanize.between,
        linked=lambda text, links, prefixes: links.in_markdown(text or "", prefixes),
        clock=lambda at: at.strftime("%H:%M:%S") if at else "",
        without_qa=lambda text: (text or "").split("\n## QA\n", 1)[0],
        state=lambda s: STATE_LABELS.get(s, (s or "").replace("_", " ")),
        build_status=build_shown,
        markdown=lambda text: Markup(md.render(text or "")),  # raw HTML in notes is off
    )
    return env


def fragment(name: str, **values: Any) -> Markup:
    """Template ``name`` rendered on its own, to be put into a page as it is."""
    return Markup(_jinja().get_template(name).render(**values))


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def render(
    request: Request,
    name: str,
    who: Principal | None = None,
    csrf: str = "",
    *,
    app: str | None = None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render template ``name`` as a page of ``app`` (on a one-app server: always that app)."""
    fleet = fleet_of(request)
    several = len(fleet.apps) > 1
    current = app if app in fleet.apps else (None if several else fleet.default)
    found: dict[str | None, Links] = {}

    def links_for(name: str | None) -> Links:
        """The forge and tracker links of ``name`` (none for an app this server does not serve)."""
        if name not in found:
            found[name] = links_of(fleet.apps[name]) if name in fleet.apps else Links()
        return found[name]

    html = (
        _jinja()
        .get_template(name)
        .render(
            request=request,
            who=who,
            csrf=csrf,
            path=request.url.path,
            current_app=current,
            app_home=f"/apps/{current}" if current else "",
            several=several,
            start=home(request),
            may=lambda action: who is not None and may(who.role, action, roles_of(request, app)),
            may_in=lambda other, action: (
                who is not None and may(who.role, action, roles_of(request, other))
            ),
            links=links_for(current),
            links_for=links_for,
            env_url=lambda env, of=None: _env_url(fleet, of or current, env),
            **values,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _env_url(fleet: Fleet, app: str | None, env: str) -> str | None:
    cfg = fleet.apps[app].environments.get(env) if app in fleet.apps else None
    return cfg.link if cfg else None


def error_page(
    request: Request, status: int, title: str, message: str, app: str | None = None
) -> HTMLResponse:
    found = sessions.current(request)
    who, s = found if found else (None, None)
    return render(
        request,
        "error.html",
        who,
        s.csrf if s else "",
        app=app,
        status=status,
        title=title,
        message=message,
    )


def page(fn: Callable[P, Response]) -> Callable[P, Response]:
    """Turn the dashboard's exceptions into a redirect to /login or an HTML error page."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs["request"]
        assert isinstance(request, Request)
        app = kwargs.get("app")
        app = app if isinstance(app, str) else None
        try:
            return fn(*args, **kwargs)
        except sessions.LoginRequired:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        except sessions.CsrfFailed:
            return error_page(
                request,
                403,
                "Form expired",
                "This form is missing its security token or it does not match your session. "
                "Reload the page and try again.",
                app,
            )
        except Forbidden as exc:
            return error_page(request, 403, "Not allowed", exc.message, app)
        except ShipyardError as exc:
            title = "Not found" if exc.status == 404 else "That did not work"
            return error_page(request, exc.status, title, exc.message, app)

    return wrapper


# -- who, where -----------------------------------------------------------------------------------


def must(request: Request, who: Principal, action: str) -> None:
    """Refuse (403) a user whose role may not ``action`` on the request's app; the buttons
    hide, this decides."""
    roles_here = roles_of(request)
    if not may(who.role, action, roles_here):
        roles = " or ".join(sorted(allowed_roles(action, roles_here)))
        raise Forbidden(f"Your role ({who.role}) may not {action}: that needs {roles}.")


def home(request: Request) -> str:
    """Where ``/`` leads: the one app's environments, or the overview of several."""
    fleet = fleet_of(request)
    return f"/apps/{fleet.default}" if len(fleet.apps) == 1 else "/apps"


def default_page(request: Request) -> str:
    """The server's own app's environments: where a form goes when it names nowhere safe."""
    return f"/apps/{fleet_of(request).default}"


def safe_next(target: str | None, fallback: str) -> str:
    """A path on this server to go to after a form, never another site."""
    return target if target and SAFE_NEXT.fullmatch(target) else fallback


def reading(request: Request, app: str) -> tuple[Principal, sessions.Session, Context]:
    """The signed-in user and a context to read ``app`` with (NotFound for an unknown app).

    Reading needs no notification outbox, so none is made: a server of 1,000 apps
    keeps outboxes only for the apps someone acted on."""
    who, s = sessions.require_login(request)
    return who, s, fleet_of(request).context(app, who.name)


def acting(request: Request, app: str) -> tuple[Principal, sessions.Session, Context]:
    """The signed-in user and a context to change ``app`` with, its outbox attached."""
    who, s = sessions.require_login(request)
    return who, s, context_for(request, who.name, app)
