"""User names and token names on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import ShipyardError
from shipyard.services.users import (
    USE_PRECISION,
    add_user,
    create_token,
    list_users,
    record_use,
    revoke_tokens,
    set_disabled,
    token_user,
)
from shipyard.store.db import Store, open_store


@pytest.mark.parametrize("name", ["a b", "a/b", "", " ", "x" * 129, "ana\n", "qa;rm"])
def test_a_user_name_that_cannot_go_into_a_url_or_a_command_is_refused(
    db_url: str, name: str
) -> None:
    store = open_store(db_url)
    try:
        with pytest.raises(ShipyardError, match="is not a user name: 1 to 128 letters"):
            add_user(store, name, "qa", actor="admin")
        assert list_users(store) == []  # nothing added
        for fine in ("quinn", "ana@example.com", "first.last+qa", "bot_1-x"):
            add_user(store, fine, "qa", actor="admin")
        assert len(list_users(store)) == 4
    finally:
        store.close()


def test_token_names_are_unique_among_a_users_active_tokens(db_url: str) -> None:
    store = open_store(db_url)
    try:
        add_user(store, "quinn", "qa", actor="admin")
        assert create_token(store, "quinn", "laptop", actor="admin").name == "laptop"
        with pytest.raises(ShipyardError, match="active token named 'laptop' already"):
            create_token(store, "quinn", "laptop", actor="admin")
        # Unnamed: cli, then cli-2, cli-3 ...
        names = [create_token(store, "quinn", None, actor="admin").name for _ in range(3)]
        assert names == ["cli", "cli-2", "cli-3"]
        # Revoking one by name revokes exactly that one; its name is free again.
        assert revoke_tokens(store, "quinn", "laptop", actor="admin") == 1
        assert create_token(store, "quinn", "laptop", actor="admin").name == "laptop"
        assert revoke_tokens(store, "quinn", "cli-2", actor="admin") == 1
        assert create_token(store, "quinn", None, actor="admin").name == "cli-2"
        with pytest.raises(ShipyardError, match="1 to 128 characters"):
            create_token(store, "quinn", "  ", actor="admin")
    finally:
        store.close()


def test_a_tokens_use_is_kept_to_the_minute_with_one_write_a_minute_at_most(
    db_url: str,
) -> None:
    """``last_used_at``: asked on each lookup whether a use is news (never recorded, or over
    a minute old); a second worker's write within that minute changes nothing."""
    store = open_store(db_url)
    try:
        add_user(store, "quinn", "qa", actor="admin")
        made = create_token(store, "quinn", "laptop", actor="admin")
        unused = create_token(store, "quinn", "spare", actor="admin")
        t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

        found = token_user(store, made.token, now=t0)
        assert found is not None and found.user.name == "quinn" and found.record
        record_use(store, found.token_id, at=t0)
        assert _last_used(store) == {"laptop": t0, "spare": None}

        # Within the minute: nothing to write, and a late write from elsewhere changes nothing.
        soon = t0 + timedelta(seconds=59)
        again = token_user(store, made.token, now=soon)
        assert again is not None and not again.record
        record_use(store, found.token_id, at=soon)
        assert _last_used(store)["laptop"] == t0
        # A minute on, the use is news again.
        later = t0 + USE_PRECISION
        assert (news := token_user(store, made.token, now=later)) is not None and news.record
        record_use(store, found.token_id, at=later)
        assert _last_used(store) == {"laptop": later, "spare": None}

        # Revoked, disabled or unknown: no user, nothing to record.
        revoke_tokens(store, "quinn", "spare", actor="admin")
        assert token_user(store, unused.token) is None
        assert token_user(store, "shp_" + "x" * 43) is None
        assert token_user(store, "not-a-token") is None
        set_disabled(store, "quinn", True, actor="admin")
        assert token_user(store, made.token) is None
    finally:
        store.close()


def _last_used(store: Store) -> dict[str, datetime | None]:
    ((_, tokens),) = list_users(store)
    return {t.name: _utc(t.last_used_at) if t.last_used_at else None for t in tokens}


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
