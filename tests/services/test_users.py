"""User names and token names on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from shipyard.errors import ShipyardError
from shipyard.services.users import add_user, create_token, list_users, revoke_tokens
from shipyard.store.db import open_store


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
