"""Post events to a Slack channel through an incoming webhook, as Block Kit messages.

The message (see :func:`build_message`)::

    {"text": <summary, the notification fallback>,
     "blocks": [
        header   plain_text title, ≤150 chars   ":white_check_mark: monitor: 2024.09.01 deployed…"
        section  mrkdwn fields                  Environment / Tag / Commit / By
        section  mrkdwn details (if any)        reasons, unverified tickets, error, url
        divider + sections                      the notes as mrkdwn, ≤3000 chars each
        context  (if the notes were cut)        "N more lines not shown"
        context  time, kind and event id
     ]}

Slack's answers to an incoming webhook (api.slack.com changelog 2016-05-17,
"Improving error conditions for Incoming Webhooks", and the incoming webhook
guide): 200 ``ok``; 400 ``invalid_payload``, ``invalid_blocks``,
``user_not_found``…; 403 ``action_prohibited``, ``invalid_token``…; 404
``channel_not_found``, ``no_service``…; 410 ``channel_is_archived``; 429 with
``Retry-After`` when over the rate limit (about one message a second); 500
``rollup_error``. 429 and 5xx are retried, every other error is final.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import shipyard.adapters.notify.mrkdwn as mrkdwn

from ._http import check_url, host_of, post_json, raise_for_status
from .events import KINDS, Event

# Block Kit limits (docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
# Beyond the per-block limits Slack also rejects messages whose blocks hold
# too much text in total (`msg_blocks_too_long`, reported from about 13,000
# characters; slackapi/bolt-js#2509). Notes are cut to stay below that.
# The budget is for all the message's text; the notes get what the rest leaves.
TEXT_BUDGET = 11_500
FALLBACK_CHARS = 3000
# Tickets merged to main is the tracker's business (Jira's sink): a Slack sink
# posts them only when its ``events`` name them.
DEFAULT_EVENTS = frozenset(KINDS) - {"tickets.merged"}

_TITLES = {
    "deployment.awaiting_approval": (":raised_hand:", "deploy of {what} to {env} awaits approval"),
    "deployment.started": (":rocket:", "deploying {what} to {env}"),
    "deployment.succeeded": (":white_check_mark:", "{what} deployed to {env}"),
    "deployment.failed": (":x:", "deploy of {what} to {env} failed"),
    "deployment.refused": (":no_entry:", "deploy of {what} to {env} refused"),
    "prerelease.cut": (":label:", "pre-release {what} cut"),
    "schedule.failed": (":warning:", "a scheduled job failed"),
    "tickets.merged": (":ticket:", "{count} merged to main"),
    "freeze.started": (":snowflake:", "{env} frozen"),
    "freeze.ended": (":sunny:", "freeze on {env} ended"),
}

_HINTS = {
    "invalid_payload": "the message was malformed",
    "invalid_blocks": "the message's blocks were rejected",
    "invalid_blocks_format": "the message's blocks were rejected",
    "too_many_attachments": "the message was malformed",
    "user_not_found": "the user does not exist",
    "action_prohibited": "the workspace forbids this webhook to post here",
    "invalid_token": "the webhook URL is no longer valid: create a new one",
    "no_service": "the webhook was removed or disabled: create a new one",
    "no_team": "the workspace no longer exists",
    "no_active_hooks": "the webhook was removed or disabled: create a new one",
    "team_disabled": "the workspace is disabled",
    "channel_not_found": "the channel no longer exists",
    "channel_is_archived": "the channel is archived",
    "posting_to_general_channel_denied": "only admins may post to this channel",
    "rollup_error": "Slack had an internal error",
}


class SlackSink:
    """Post each event to a Slack incoming webhook (``https://hooks.slack.com/services/…``).

    Example::

        SlackSink(os.environ["SLACK_WEBHOOK_URL"]).send(event)
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        *,
        name: str = "slack",
        events: frozenset[str] = frozenset(),
    ) -> None:
        self._url = check_url(url, f"notify sink {name!r}")
        self.timeout = timeout
        self.name = name
        self.events = events or DEFAULT_EVENTS

    def __repr__(self) -> str:
        # The webhook URL is the credential: show the host only.
        return f"SlackSink(name={self.name!r}, host={host_of(self._url)!r})"

    def send(self, event: Event) -> None:
        reply = post_json(
            self._url, build_message(event), headers={}, timeout=self.timeout, service="Slack"
        )
        error = reply.body.strip()[:100]
        hint = _HINTS.get(error)
        raise_for_status(reply, "Slack", f"{error} ({hint})" if hint else error)


def build_message(event: Event) -> dict[str, Any]:
    """The Slack payload for ``event``, within Block Kit's limits."""
    blocks: list[dict[str, Any]] = [_header(event)]
    fields = _fields(event)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if event.details:
        blocks.append(_section(_details(event.details)))
    if event.notes_markdown and event.notes_markdown.strip():
        budget = max(0, TEXT_BUDGET - _text_size(blocks) - 400)  # 400: the footer, the cut note
        notes, omitted = mrkdwn.cut_lines(mrkdwn.from_markdown(event.notes_markdown), budget)
        room = MAX_BLOCKS - len(blocks) - 3  # divider, the "more lines" note, the footer
        pieces = mrkdwn.split(notes, SECTION_CHARS)[:room] if notes.strip() else []
        blocks.append({"type": "divider"})
        blocks.extend(_section(piece) for piece in pieces)
        if omitted:
            blocks.append(_context(_more(omitted, event)))
    blocks.append(_context(_footer(event)))
    return {"text": mrkdwn.clip(mrkdwn.escape(event.summary), FALLBACK_CHARS), "blocks": blocks}


def _header(event: Event) -> dict[str, Any]:
    emoji, template = _TITLES.get(event.kind, (":information_source:", event.kind))
    what = event.ref or event.tag or (event.commit or "")[:7] or "a build"
    if event.kind == "prerelease.cut":
        what = event.tag or event.ref or "?"
    tickets = event.details.get("tickets")
    n = len(tickets) if isinstance(tickets, list | tuple) else 0
    count = f"{n} ticket{'s' * (n != 1)}"
    env = event.environment or ("every environment" if event.kind.startswith("freeze.") else "?")
    title = f"{emoji} {event.app}: " + template.format(what=what, env=env, count=count)
    text = mrkdwn.clip(title, HEADER_CHARS)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _fields(event: Event) -> list[dict[str, str]]:
    rows = [
        ("Environment", event.environment),
        ("Tag", f"`{event.tag}`" if event.tag else None),
        ("Ref", f"`{event.ref}`" if event.ref and not event.tag else None),
        ("Commit", f"`{event.commit[:7]}`" if event.commit else None),
        ("By", event.actor),
    ]
    return [
        {"type": "mrkdwn", "text": mrkdwn.clip(f"*{label}*\n{mrkdwn.escape(value)}", FIELD_CHARS)}
        for label, value in rows
        if value
    ]


def _details(details: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for key, value in details.items():
        label = str(key).replace("_", " ").capitalize()
        if isinstance(value, list | tuple | set | frozenset):
            lines.append(f"*{label}*")
            lines.extend(f"• {mrkdwn.escape(str(item))}" for item in value)
        elif key == "url" and isinstance(value, str):
            lines.append(f"*Link*: <{mrkdwn.escape(value)}>")
        else:
            lines.append(f"*{label}*: {mrkdwn.escape(str(value))}")
    return "\n".join(lines)


def _more(omitted: int, event: Event) -> str:
    text = f"Notes cut: {omitted} more line{'s' if omitted != 1 else ''} not shown."
    url = event.details.get("url")
    return text + (f" Full notes: <{mrkdwn.escape(url)}>" if isinstance(url, str) else "")


def _footer(event: Event) -> str:
    try:
        epoch = int(datetime.fromisoformat(event.at).timestamp())
        when = f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{event.at}>"
    except ValueError:
        when = mrkdwn.escape(event.at)
    return f"{when} · `{event.kind}` · {mrkdwn.escape(event.id)}"


def _text_size(blocks: list[dict[str, Any]]) -> int:
    """The characters of text in ``blocks`` (what Slack's overall limit counts)."""
    size = 0
    for block in blocks:
        texts = [block.get("text"), *(block.get("fields") or block.get("elements") or [])]
        size += sum(len(t.get("text", "")) for t in texts if isinstance(t, dict))
    return size


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn.clip(text, SECTION_CHARS)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
