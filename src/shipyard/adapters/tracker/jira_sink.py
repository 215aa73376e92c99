"""Jira's side of a merge and a promotion, delivered through the outbox.

A ``tickets.merged`` event applies ``[tracker] on_merge`` to each of its tickets; a
``deployment.succeeded`` event to an environment that promotes tickets (its ``details``
name them as ``promoted``) applies ``on_promote`` and comments with the release and a
link. The outbox calls :meth:`JiraSink.send` in the background and retries it, so Jira
being slow, rate-limited or down never fails a sync or a deploy:

    429, 5xx, no answer, refused credentials   retried (a 429 after its Retry-After)
    404 (the ticket was deleted in Jira)        given up on for that ticket
    no transition of that name open now         given up on for that ticket

Each step done (a ticket's transition, its comment) is written to a small progress file
per event, so a retry resumes where the last attempt stopped and never comments twice.
When every step is done or given up on, the file goes; if any was given up on, the
event fails for good (the outbox keeps it in ``dead/`` with the reason, e.g.
``MNTOR-7: not found in Jira (deleted?)``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.adapters.notify.events import Event, NotifyError
from shipyard.adapters.tracker.jira_client import JiraClient, JiraError, Retry
from shipyard.errors import NotFound

if TYPE_CHECKING:
    from shipyard.config import Settings
    from shipyard.config.tracker import TrackerConfig

log = logging.getLogger(__name__)
KINDS = frozenset({"tickets.merged", "deployment.succeeded"})


@dataclass(frozen=True)
class Step:
    """One call to make: ``transition`` (a name) or a ``comment`` on ``key``."""

    key: str
    what: str  # "transition" | "comment"
    value: str
    link: str | None = None

    @property
    def id(self) -> str:
        return f"{self.key}:{self.what}"


class Progress:
    """The steps of one event already done or given up on, kept in a file across retries."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        self.done: set[str] = set(data.get("done", []))
        self.given_up: dict[str, str] = dict(data.get("given_up", {}))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"done": sorted(self.done), "given_up": self.given_up}))
        os.replace(tmp, self.path)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


class JiraSink:
    """Apply ``on_merge``/``on_promote`` and the release comment for the outbox.

    Example::

        sink = JiraSink(JiraClient(url, user=..., token=...), cfg, state_dir / "jira-progress")
        Outbox(state_dir / "outbox", [sink, ...])
    """

    def __init__(
        self, client: JiraClient, config: TrackerConfig, progress_dir: Path, *, name: str = "jira"
    ) -> None:
        self.client, self.config, self.progress_dir = client, config, progress_dir
        self.name = name
        self.events = KINDS

    def __repr__(self) -> str:
        return f"JiraSink({self.client.url!r})"

    def steps(self, event: Event) -> list[Step]:
        """What ``event`` asks of Jira, in order; nothing for an event it does not concern."""
        cfg, out = self.config, []
        if event.kind == "tickets.merged" and cfg.on_merge:
            out = [Step(k, "transition", cfg.on_merge) for k in _keys(event, "tickets")]
        elif event.kind == "deployment.succeeded":
            release = str(event.details.get("release") or event.ref or event.tag or "?")
            link = event.details.get("url")
            text = f"Released in {release} to {event.environment or '?'} by Shipyard"
            text += f" ({event.actor})." if event.actor else "."
            for key in _keys(event, "promoted"):
                if cfg.on_promote:
                    out.append(Step(key, "transition", cfg.on_promote))
                out.append(Step(key, "comment", text, link if isinstance(link, str) else None))
        return out

    def send(self, event: Event) -> None:
        steps = self.steps(event)
        if not steps:
            return
        progress = Progress(self.progress_dir / f"{event.id}.json")
        for step in steps:
            if {step.id, step.key} & (progress.done | progress.given_up.keys()):
                continue
            try:
                self._apply(step)
            except NotFound:  # every later step of this ticket is skipped too
                progress.given_up[step.key] = f"{step.key}: not found in Jira (deleted?)"
            except JiraError as exc:
                if exc.retryable:
                    progress.save()
                    raise NotifyError(
                        exc.message, retryable=True, retry_after=exc.retry_after
                    ) from None
                progress.given_up[step.id] = exc.message
            else:
                progress.done.add(step.id)
            progress.save()
        progress.finish()
        if progress.given_up:
            told = "; ".join(progress.given_up.values())
            log.warning("Jira: %s: given up on %s", event.kind, told)
            raise NotifyError(f"given up on {told}", retryable=False)

    def _apply(self, step: Step) -> None:
        if step.what == "transition":
            self.client.transition(step.key, [step.value])
        else:
            self.client.comment(step.key, step.value, link=step.link)


def _keys(event: Event, field: str) -> Iterator[str]:
    value: Any = event.details.get(field) or []
    if isinstance(value, list | tuple):
        yield from dict.fromkeys(str(k) for k in value)


def create_sink(settings: Settings) -> JiraSink | None:
    """The app's Jira sink, when ``[tracker]`` is Jira with ``on_merge`` or ``on_promote``.

    Its client tries each call once: the outbox does the waiting and retrying, so a
    delivery thread never sleeps through a long ``Retry-After``."""
    cfg = settings.tracker
    if cfg.kind != "jira" or cfg.url is None or not (cfg.on_merge or cfg.on_promote):
        return None
    client = JiraClient(
        cfg.url, user=cfg.user, token=cfg.token_value(), retry=Retry(attempts=1, cap=3600.0)
    )
    return JiraSink(client, cfg, settings.state_dir / "jira-progress")
