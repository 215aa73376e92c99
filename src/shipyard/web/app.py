"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

from shipyard import __version__
from shipyard.config import Settings
from shipyard.store.db import Store, open_store
from shipyard.web import errors

log = logging.getLogger("shipyard.web")
ROLLOUT_WAIT = 3600.0  # bounded like a deployment's own steps


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    apps: list[Settings] | None = None,
    schedule: bool = False,
    recover: bool = True,
) -> FastAPI:
    """Build the server for ``settings``' app and the other ``apps`` it serves.

    ``apps`` defaults to what ``settings``' ``[server] apps`` names (see
    ``services.fleet``); the store is opened here unless given. With ``schedule``
    the server runs every app's schedules while it is up.

    On start, before it answers anything, the server finishes or fails the
    deployments whose owner is gone (a server killed mid-rollout); not with
    ``recover=False`` (a worker of ``serve --workers``, whose parent did it).

    On shutdown (uvicorn has answered the requests in flight) the server stops
    its schedules, letting a running job finish, waits for the deployments the
    dashboard started, lets webhook ingests end, and delivers what is queued."""
    from shipyard.services.fleet import Fleet, load_fleet
    from shipyard.services.stamps import users_stamp
    from shipyard.services.status import subscribe
    from shipyard.web.background import Rollouts
    from shipyard.web.principals import Principals

    subscribe()  # a deployment any request or schedule finishes updates the environments view
    served = apps if apps is not None else load_fleet(settings)
    app = FastAPI(
        title="Shipyard",
        version=__version__,
        summary="The release train: builds, environments, releases, QA and 1-click deploys.",
        lifespan=_lifespan(served, schedule, recover, owned=store is None),
    )
    app.state.settings = settings
    app.state.store = store or open_store(settings.database_url)
    app.state.fleet = Fleet.of(served, app.state.store)
    app.state.outboxes = {}  # per app, made on first use, see web.deps.context_for
    app.state.rollouts = Rollouts()
    # Who a token is, for a few seconds; at once forgotten on every worker when access ends.
    app.state.principals = Principals(stamp=users_stamp(settings.state_dir))
    _middleware(app, served)
    _operations(app)
    _routers(app)
    return app


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _lifespan(served: list[Settings], schedule: bool, recover: bool, *, owned: bool) -> Lifespan:
    """Recovery before the first answer, the schedules while up, an orderly stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        from shipyard.web.background import recover_at_start

        # Nothing stays "in progress" after a crash: dead owners' deployments end first.
        if recover:
            await anyio.to_thread.run_sync(recover_at_start, app.state.fleet)
        stop_schedule = None
        if schedule:
            from shipyard.web.background import start_scheduler

            stop_schedule = start_scheduler(served, app.state.store)
        yield
        await anyio.to_thread.run_sync(_stop, app, served, stop_schedule, owned)

    return lifespan


def _stop(
    app: FastAPI, served: list[Settings], stop_schedule: Callable[[], None] | None, owned: bool
) -> None:
    from shipyard.services.webhooks.ingest import drain

    if stop_schedule is not None:
        stop_schedule()
    if not app.state.rollouts.wait(ROLLOUT_WAIT):
        log.warning("stopping with a deployment still running; the next start recovers it")
    for each in served:
        drain(each, 30.0)  # let an ingest a webhook started finish
    for outbox in list(app.state.outboxes.values()):
        outbox.drain(3.0)
        outbox.close()
    if owned:
        app.state.store.close()


def _middleware(app: FastAPI, served: list[Settings]) -> None:
    """Errors as JSON or pages, secrets scrubbed from every answer and log, an access log."""
    from shipyard.services.envconfig import opened_secrets
    from shipyard.services.secrets import secret_values
    from shipyard.services.stamps import secrets_stamp
    from shipyard.web.logs import AccessLog, ScrubSecrets
    from shipyard.web.routes.pages.common import error_page
    from shipyard.web.shared_secrets import LearnSecrets, SharedScrubber

    errors.install(app, html=error_page)
    # The environments' stored secrets too; without their key the server does not start.
    store = app.state.store

    def stored() -> set[str]:
        return opened_secrets(store, served)

    # Shared with the other workers of this host through the secrets stamp.
    scrubber = SharedScrubber(secrets_stamp(app.state.settings.state_dir))  # stamp read first
    scrubber.learn(set(stored()).union(*(secret_values(each) for each in served)))
    store.scrub_with(scrubber.data)  # the audit log of every app served
    app.state.scrubber = app.state.fleet.scrubber = scrubber  # approvals add to it
    app.add_middleware(errors.StrictJson)
    app.add_middleware(ScrubSecrets, scrubber=scrubber)
    app.add_middleware(AccessLog)
    app.add_middleware(LearnSecrets, scrubber=scrubber, load=stored)  # first: before all


def _operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"])
    def healthz() -> JSONResponse:
        """Liveness and readiness: 200 when the database answers, 503 otherwise."""
        try:
            app.state.store.current_revision()
        except Exception as exc:  # any failure to reach the database means not ready
            return JSONResponse(
                errors.body("unavailable", f"database unreachable: {type(exc).__name__}"),
                status_code=503,
            )
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Deployments, queues, webhook deliveries and scheduled runs, in Prometheus' text format."""
        from shipyard.services.metrics import render

        return PlainTextResponse(render(app.state.store), media_type="text/plain; version=0.0.4")


def _routers(app: FastAPI) -> None:
    from shipyard.web.routes import (
        admin,
        api,
        api_plan,
        approvals,
        config_api,
        deployments_api,
        freezes,
        pages,
        reverts_api,
        webhooks,
    )

    app.include_router(approvals.router)  # before api: /deployments/awaiting
    app.include_router(api.router)
    app.include_router(deployments_api.router)
    app.include_router(reverts_api.router)
    app.include_router(api_plan.router)
    app.include_router(freezes.router)
    app.include_router(config_api.router)
    app.include_router(admin.router)
    app.include_router(webhooks.router)
    app.include_router(pages.router)
