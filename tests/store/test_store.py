"""The store on SQLite and on PostgreSQL: schema, audit chain, one deployment in flight."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from shipyard.core import states as st
from shipyard.store import audit
from shipyard.store.db import HEAD_REVISION, open_store
from shipyard.store.models import App, AuditEvent, Deployment, Environment, WebhookDelivery


def _app_env(store):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with store.write() as s:
        app = App(name="monitor", repo="/r", created_at=now)
        s.add(app)
        s.flush()
        env = Environment(app_id=app.id, name="prod")
        s.add(env)
        s.flush()
        return app.id, env.id


def _deployment(app_id: int, env_id: int, state: str) -> Deployment:
    now = datetime.now(UTC)
    return Deployment(
        app_id=app_id,
        environment_id=env_id,
        commit="a" * 40,
        ref="2024.09.01",
        tag="prod-x",
        kind="deploy",
        state=state,
        tag_created=False,
        requested_by="t",
        created_at=now,
        updated_at=now,
    )


def test_migrates_to_head_once(db_url: str) -> None:
    store = open_store(db_url)
    assert store.current_revision() == HEAD_REVISION
    store.migrate()  # a second open is a no-op
    with store.read() as s:
        assert s.execute(text("SELECT count(*) FROM apps")).scalar_one() == 0
    store.close()


def test_audit_chain_verifies_and_names_the_first_bad_record(db_url: str) -> None:
    store = open_store(db_url)
    with store.write() as s:
        for i in range(5):
            audit.append(
                s, actor="ana@example.com", action="test.event", subject=f"s{i}", data={"i": i}
            )
    with store.read() as s:
        result = audit.verify(s)
    assert result.ok and result.count == 5
    with store.write() as s:
        third = s.execute(
            select(AuditEvent).order_by(AuditEvent.id).offset(2).limit(1)
        ).scalar_one()
        s.execute(
            update(AuditEvent).where(AuditEvent.id == third.id).values(actor="mallory@example.com")
        )
    with store.read() as s:
        result = audit.verify(s)
    assert not result.ok and result.bad_id == third.id and result.count == 2
    assert "do not match" in (result.reason or "")
    store.close()


def test_deleting_a_record_breaks_the_chain(db_url: str) -> None:
    store = open_store(db_url)
    with store.write() as s:
        for i in range(3):
            audit.append(s, actor="a", action="x", subject=str(i))
    with store.write() as s:
        ids = s.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars().all()
        s.execute(AuditEvent.__table__.delete().where(AuditEvent.id == ids[1]))
    with store.read() as s:
        result = audit.verify(s)
    assert not result.ok and result.bad_id == ids[2] and "does not follow" in (result.reason or "")
    store.close()


def test_concurrent_appends_never_fork_the_chain(db_url: str) -> None:
    store = open_store(db_url)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                store.retrying(
                    lambda s, i=i: audit.append(s, actor=f"w{n}", action="x", subject=str(i))
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    with store.read() as s:
        result = audit.verify(s)
    assert result.ok and result.count == 40
    store.close()


def test_one_active_deployment_per_environment_is_enforced_by_the_database(db_url: str) -> None:
    store = open_store(db_url)
    app_id, env_id = _app_env(store)
    with store.write() as s:
        s.add(_deployment(app_id, env_id, st.ROLLING_OUT))
        s.add(_deployment(app_id, env_id, st.QUEUED))  # queued ones may wait in any number
        s.add(_deployment(app_id, env_id, st.QUEUED))
        s.add(_deployment(app_id, env_id, st.SUCCEEDED))
    with pytest.raises(IntegrityError), store.write() as s:
        s.add(_deployment(app_id, env_id, st.WAITING_ARTIFACT))
    with store.write() as s:
        s.execute(
            update(Deployment).where(Deployment.state == st.ROLLING_OUT).values(state=st.FAILED)
        )
        s.add(_deployment(app_id, env_id, st.TAGGING))
    store.close()


def test_unreachable_database_is_one_clear_error() -> None:
    from shipyard.errors import ShipyardError

    with pytest.raises(ShipyardError, match="cannot open database postgresql"):
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")


def test_a_database_at_an_older_revision_is_upgraded(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from shipyard.store.db import MIGRATIONS, Store

    store = Store(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert store.current_revision() == "0001"
    store.migrate()
    assert store.current_revision() == HEAD_REVISION
    with store.read() as s:
        assert s.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
    store.close()


def test_a_0003_database_records_deliveries_per_app(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from shipyard.store.db import MIGRATIONS, Store

    store = Store(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    # What 0003's code recorded: "<id>@<app>" for another app than the server's own,
    # hashed when long (that one cannot be read back), the bare id for its own.
    hashed = "h-1@billing-wo~0123456789abcdef"
    with store.engine.begin() as conn:
        for delivery_id in ("abc@billing", "plain", hashed, "abc"):
            conn.execute(
                text(
                    "INSERT INTO webhook_deliveries "
                    "(source, delivery_id, event, outcome, detail, received_at) "
                    "VALUES ('github', :id, 'push', 'accepted', '', CURRENT_TIMESTAMP)"
                ),
                {"id": delivery_id},
            )
    store.migrate()
    assert store.current_revision() == HEAD_REVISION == "0013"
    with store.read() as s:
        rows = s.execute(
            select(WebhookDelivery.app, WebhookDelivery.delivery_id).order_by(WebhookDelivery.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("billing", "abc"),
        ("", "plain"),
        ("", hashed),
        ("", "abc"),
    ]
    now = datetime.now(UTC)

    def delivery(app: str, delivery_id: str) -> WebhookDelivery:
        return WebhookDelivery(
            source="github",
            app=app,
            delivery_id=delivery_id,
            event="push",
            outcome="accepted",
            received_at=now,
        )

    with store.write() as s:  # one delivery id, once per app
        s.add_all([delivery("monitor", "plain"), delivery("worker", "plain")])
    with pytest.raises(IntegrityError), store.write() as s:
        s.add(delivery("billing", "abc"))
    store.close()
