"""``[tracker]``: where tickets and their QA statuses live.

The built-in board is the default and needs no network. With ``kind = "jira"`` the QA
gate reads each ticket's status from Jira::

    [tracker]
    kind = "jira"
    url = "https://mozilla-hub.atlassian.net"
    user = "releases@example.com"       # Cloud: email + API token; Server/DC: omit, token is a PAT
    token = { env = "JIRA_TOKEN" }
    verified = ["QA Verified", "Done"]  # statuses that count as signed off
    rejected = ["QA Failed"]
    on_merge = "Ready for QA"           # transition names, optional
    on_promote = "Released"
    cache_seconds = 30                  # how long a status read from Jira is reused
    webhook_secret = { env = "JIRA_WEBHOOK_SECRET" }  # POST /webhooks/jira's HMAC secret
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.config.adapters import check_name
from shipyard.config.links import URL_RE
from shipyard.config.schema import (
    Invalid,
    SecretRef,
    _between,
    _fields,
    _secret_ref,
    _str_list,
    _table,
)
from shipyard.errors import ConfigError

_JIRA_ONLY = (
    "url",
    "user",
    "token",
    "verified",
    "rejected",
    "on_merge",
    "on_promote",
    "webhook_secret",
)


@dataclass(frozen=True)
class TrackerConfig:
    """``[tracker]``: the tracker's kind and, for ``jira``, the site and its QA statuses."""

    kind: str = "builtin"
    url: str | None = None
    user: str | None = None
    token: SecretRef | None = None
    verified: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    on_merge: str | None = None
    on_promote: str | None = None
    cache_seconds: float = 30.0
    webhook_secret: SecretRef | None = None  # signs POST /webhooks/jira (X-Hub-Signature)

    def webhook_secret_value(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The webhook secret, or None when none is configured or its variable is unset."""
        env = os.environ if environ is None else environ
        if self.webhook_secret is None:
            return None
        return env.get(self.webhook_secret.env) or None

    def token_value(self, environ: Mapping[str, str] | None = None) -> str:
        """The token the reference names; a ConfigError naming the field when it is unset."""
        env = os.environ if environ is None else environ
        value = env.get(self.token.env) if self.token is not None else None
        if not value:
            name = self.token.env if self.token is not None else "?"
            raise ConfigError(
                f"shipyard.toml: tracker -> token: environment variable {name} is not set",
                field="tracker -> token",
            )
        return value


def parse_tracker(data: Any) -> TrackerConfig:
    p: tuple[str | int, ...] = ("tracker",)
    table = _table(data, p)
    f = _fields(
        {k: v for k, v in table.items() if k not in ("token", "webhook_secret")},
        p,
        {
            "kind": (str, "builtin"),
            "url": (str, None),
            "user": (str, None),
            "verified": (list, list),
            "rejected": (list, list),
            "on_merge": (str, None),
            "on_promote": (str, None),
            "cache_seconds": (float, 30.0),
        },
    )
    for key in ("token", "webhook_secret"):
        f[key] = _secret_ref(table[key], (*p, key)) if key in table else None
    check_name("tracker", f["kind"], (*p, "kind"))
    f["verified"] = _str_list(f["verified"], (*p, "verified"))
    f["rejected"] = _str_list(f["rejected"], (*p, "rejected"))
    _between(f["cache_seconds"], 0, 3600, (*p, "cache_seconds"))
    if f["kind"] == "jira":
        _check_jira(f, p)
    elif f["kind"] == "builtin":
        extra = next((k for k in _JIRA_ONLY if f[k]), None)
        if extra is not None:
            raise Invalid((*p, extra), 'only a "jira" tracker has this setting')
    return TrackerConfig(**f)


def _check_jira(f: Mapping[str, Any], p: tuple[str | int, ...]) -> None:
    for key in ("url", "token"):
        if f[key] is None:
            raise Invalid((*p, key), 'is required when kind = "jira"')
    if not URL_RE.match(f["url"]):
        raise Invalid((*p, "url"), "must be an http(s) URL such as https://acme.atlassian.net")
    if not f["verified"]:
        raise Invalid((*p, "verified"), "name at least one status that counts as signed off")
    for i, name in enumerate(f["rejected"]):
        if name.casefold() in {v.casefold() for v in f["verified"]}:
            raise Invalid((*p, "rejected", i), f"{name!r} is also a verified status")
    for key in ("verified", "rejected"):
        for i, name in enumerate(f[key]):
            if not name.strip():
                raise Invalid((*p, key, i), "must not be empty")
    for key in ("on_merge", "on_promote", "user"):
        if f[key] is not None and not f[key].strip():
            raise Invalid((*p, key), "must not be empty")
