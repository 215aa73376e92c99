"""The secret values of a configuration, and the scrubber built from them.

Every value a setting names by reference (``{ env = "NAME" }``: webhook
secrets, the build token, notification URLs, the forge's token or App key), a notification URL or header
written in the file, and the password of the database URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

from shipyard.config import SecretRef, Settings
from shipyard.core.secrets import Scrubber


def _resolved(value: str | SecretRef | None, environ: Mapping[str, str]) -> str | None:
    if isinstance(value, SecretRef):
        return environ.get(value.env) or None
    return value or None


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def secret_values(settings: Settings, environ: Mapping[str, str] | None = None) -> set[str]:
    """Every secret value ``settings`` names (those set), from ``environ`` (os.environ)."""
    env = os.environ if environ is None else environ
    found = {
        _resolved(settings.webhooks.github_secret, env),
        _resolved(settings.webhooks.build_token, env),
        _password(settings.database_url),
        _resolved(settings.forge.token, env),
    }
    key = settings.forge.private_key
    if key is not None and key.env:
        found.add(env.get(key.env))
    for sink in settings.notify:
        found.add(_resolved(sink.url, env))
        found.update(sink.headers.values())
    return {v for v in found if v}


def scrubber_for(
    apps: Iterable[Settings],
    environ: Mapping[str, str] | None = None,
    *,
    extra: Iterable[str] = (),
) -> Scrubber:
    """One scrubber for the secrets of every app in ``apps`` (and ``extra`` values: the
    environments' stored secrets)."""
    values: set[str] = set(extra)
    for settings in apps:
        values |= secret_values(settings, environ)
    return Scrubber(values)
