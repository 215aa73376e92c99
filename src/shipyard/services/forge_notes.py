"""Release notes with the forge's word on each PR: title, author login, labels, URL.

With ``[forge] kind = "github"`` the changes parsed from git get what GitHub says of
their PRs (``Forge.pull_requests``: batched, cached in the database); ``[notes] groups``
then sorts them by label. A forge that fails (down, rate limited past its bounded
wait, a refused or missing token) never fails the notes or a pre-release cut: the
changes keep their commit-message metadata and one warning says so. Without a forge
(``kind = "git"``) nothing here runs and nothing is sent.

    changes = described(changes, ctx.forge, ctx.reporter.warn)
    rules = configured_groups(ctx.settings)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from shipyard.core.changes import Change
from shipyard.core.notes import DEFAULT_GROUPS, GroupRule, label_rules
from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.adapters.forge import Forge, PullRequest
    from shipyard.config import Settings
    from shipyard.config.quick import NotesSettings

Warn = Callable[[str], None]


def uses_forge(settings: Settings) -> bool:
    """Whether the app names a forge to ask (``[forge] kind`` other than ``git``)."""
    return settings.forge.kind != "git"


def described(
    changes: Sequence[Change],
    forge: Forge,
    warn: Warn,
    scrub: Callable[[str], str] = str,
) -> list[Change]:
    """``changes`` with their PRs' metadata from ``forge``; unchanged, after one warning
    (passed through ``scrub``), when the forge fails."""
    numbers = sorted({c.pr for c in changes if c.pr is not None})
    if not numbers:
        return list(changes)
    try:
        prs = forge.pull_requests(numbers)
    except ShipyardError as exc:
        warn(
            scrub(
                f"the forge did not describe the PRs ({exc.message}); "
                "the notes use the commit messages"
            )
        )
        return list(changes)
    return [_with(c, prs.get(c.pr)) if c.pr is not None else c for c in changes]


def _with(change: Change, pr: PullRequest | None) -> Change:
    if pr is None:
        return change  # no PR of that number (an issue): the commit message stays
    return change._replace(title=pr.title, author=pr.author, labels=pr.labels, url=pr.url)


def configured_groups(settings: Settings | NotesSettings) -> list[GroupRule]:
    """The notes' rules: ``[notes] groups`` (by label) first, then ``[[releases.groups]]``
    (or the default title rules)."""
    rules = label_rules(settings.notes.groups)
    if not settings.releases.groups:
        return [*rules, *DEFAULT_GROUPS]
    return [
        *rules,
        *(
            GroupRule(
                key=g.key,
                title=g.title,
                pattern=g.match,
                reverts=g.reverts,
                labels=tuple(g.labels),
            )
            for g in settings.releases.groups
        ),
    ]
