"""Who a token signs in, with its use written down: ``api_tokens.last_used_at``, which
``shipyard user list``, the Users page and ``GET /api/v1/users`` show.

The use is written at most once a minute per token (``services.users.USE_PRECISION``)
and on a thread of its own, so that no request waits for that write; the callers ask
only when a token is looked up, not on every request (``web.principals`` remembers
the answer for a few seconds).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from shipyard.services.users import TokenUser, hashed_token_user, record_use, token_user
from shipyard.store.db import Store

log = logging.getLogger("shipyard.web")
# One thread, started by the first use a process records (none before: a worker forked
# from the server's parent gets an executor that has started nothing).
_writer = ThreadPoolExecutor(1, thread_name_prefix="shipyard-token-use")


def signed_in(store: Store, token: str) -> TokenUser | None:
    """The user ``token`` signs in (None: unknown, revoked or disabled); its use noted."""
    return _noted(store, token_user(store, token))


def signed_in_by_hash(store: Store, name: str, token_hash: str) -> TokenUser | None:
    """:func:`signed_in` for a browser session: its user's name and its token's hash."""
    return _noted(store, hashed_token_user(store, token_hash, name=name))


def _noted(store: Store, found: TokenUser | None) -> TokenUser | None:
    if found is not None and found.record:
        _writer.submit(_record, store, found.token_id)
    return found


def _record(store: Store, token_id: int) -> None:
    try:
        record_use(store, token_id)
    except Exception as exc:  # a lost "last used" must fail nothing else
        log.warning("could not record the use of token #%d: %s", token_id, type(exc).__name__)
