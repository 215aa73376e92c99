"""Who may do what: actions mapped to roles, as data.

    viewer < engineer < qa | releaser < admin   (admin may do everything)

The mapping can be replaced per action from configuration (``[permissions]`` in an
app's shipyard.toml: the server applies it to that app's routes).
"""

from __future__ import annotations

from collections.abc import Mapping

ROLES = ("viewer", "engineer", "qa", "releaser", "admin")

DEFAULT_ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "sync": frozenset({"engineer", "releaser", "admin"}),
    "prerelease": frozenset({"engineer", "releaser", "admin"}),
    "qa": frozenset({"qa", "admin"}),
    "deploy": frozenset({"releaser", "admin"}),
    "rollback": frozenset({"releaser", "admin"}),
    "tokens": frozenset(ROLES),  # one's own tokens
    "admin": frozenset({"admin"}),
    # An environment's variables: propose a change or ask for a grant; approve another's.
    "config": frozenset({"engineer", "releaser", "admin"}),
    "config_approve": frozenset({"releaser", "admin"}),
}


# What [permissions] may grant to other roles; "tokens" (one's own) and "admin" stay fixed.
CONFIGURABLE = ("read", "sync", "prerelease", "qa", "deploy", "rollback")


def allowed_roles(
    action: str, overrides: Mapping[str, frozenset[str]] | None = None
) -> frozenset[str]:
    if overrides and action in overrides:
        return overrides[action] | {"admin"}
    return DEFAULT_ACTIONS[action]


def may(role: str, action: str, overrides: Mapping[str, frozenset[str]] | None = None) -> bool:
    return role in allowed_roles(action, overrides)
