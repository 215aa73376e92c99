"""Every Slack message Shipyard builds stays within Block Kit's published limits.

Limits, from Slack's reference (https://api.slack.com/reference/block-kit/blocks, now
https://docs.slack.dev/reference/block-kit/blocks): a message holds at most 50 blocks;
a section's text at most 3000 characters, its fields at most 10 items of at most 2000;
a header's plain_text at most 150; a context at most 10 elements. The top-level
``text`` (the notification fallback) is truncated by Slack beyond 40,000 characters
(https://docs.slack.dev/reference/methods/chat.postMessage, "text").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shipyard.adapters.notify import KINDS, Event, build_message

LIMITS = {"blocks": 50, "section": 3000, "field": 2000, "fields": 10, "header": 150, "context": 10}


def problems(message: dict[str, Any]) -> list[str]:
    """Every Block Kit limit ``message`` breaks, each named."""
    out = []
    text = message.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= 40_000:
        out.append("text: missing or over 40000 characters")
    blocks = message.get("blocks", [])
    if len(blocks) > LIMITS["blocks"]:
        out.append(f"{len(blocks)} blocks, over 50")
    for i, block in enumerate(blocks):
        out += [f"block {i} ({block['type']}): {p}" for p in _block(block)]
    return out


def _block(block: dict[str, Any]) -> list[str]:
    kind, out = block["type"], []
    if kind == "header":
        t = block["text"]
        if t["type"] != "plain_text" or not 0 < len(t["text"]) <= LIMITS["header"]:
            out.append("header text not plain_text of 1..150")
    elif kind == "section":
        if "text" in block and not 0 < len(block["text"]["text"]) <= LIMITS["section"]:
            out.append(f"text of {len(block['text']['text'])} characters")
        fields = block.get("fields", [])
        if len(fields) > LIMITS["fields"]:
            out.append(f"{len(fields)} fields")
        out += [f"field of {len(f['text'])}" for f in fields if len(f["text"]) > LIMITS["field"]]
        if "text" not in block and not fields:
            out.append("neither text nor fields")
    elif kind == "context":
        if not 0 < len(block["elements"]) <= LIMITS["context"]:
            out.append(f"{len(block['elements'])} elements")
    elif kind != "divider":
        out.append("a block type this sink does not send")
    return out


def huge_notes(prs: int = 300) -> str:
    lines = ["## Features", ""]
    lines += [
        f"- MNTOR-{n}: a change with a long title about {'many things ' * 8}(#{n}) by dev{n}"
        for n in range(prs)
    ]
    return "\n".join(lines)


def event(kind: str, *, big: bool) -> Event:
    keys = [f"MNTOR-{n}" for n in range(300 if big else 2)]
    details: dict[str, Any] = {
        "tickets.merged": {"tickets": keys},
        "deployment.succeeded": {"release": "2024.09.01", "promoted": keys},
        "deployment.refused": {"unverified": keys, "gates": [{"name": "qa"}]},
        "deployment.failed": {"error": "boom " * (2000 if big else 1)},
        "schedule.failed": {"job": "prerelease", "slot": "2024-09-01"},
        "deployment.awaiting_approval": {
            "deployment": 7,
            "approvals": 2,
            "approvers": ["releaser", "admin"] * (100 if big else 1),
            "approve": "shipyard approve 7",
        },
        "freeze.started": {"freeze": 3, "reason": "incident " * (2000 if big else 1)},
        "freeze.ended": {"freeze": 3, "reason": "incident " * (2000 if big else 1)},
    }.get(kind, {})
    return Event(
        kind=kind,
        app="monitor" * (40 if big else 1),
        summary=("prod: 2024.09.01 deployed " * (3000 if big else 1)).strip(),
        environment="prod",
        ref="2024.09.01",
        tag="prod-2024.09.01",
        commit="a" * 40,
        actor="ana@example.com",
        notes_markdown=huge_notes() if big else "## Fixes\n- Fix login (#12)",
        details=details,
    )


@pytest.mark.parametrize("big", [False, True], ids=["small", "huge"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_event_kind_fits_block_kit(kind: str, big: bool) -> None:
    message = build_message(event(kind, big=big))
    assert problems(message) == []
    header = message["blocks"][0]["text"]["text"]
    assert ":information_source:" not in header  # each kind has its own title


def test_the_new_kinds_say_what_is_awaited_and_what_is_frozen() -> None:
    waiting = build_message(event("deployment.awaiting_approval", big=False))
    assert waiting["blocks"][0]["text"]["text"] == (
        ":raised_hand: monitor: deploy of 2024.09.01 to prod awaits approval"
    )
    assert "shipyard approve 7" in json.dumps(waiting["blocks"])
    everywhere = Event(kind="freeze.started", app="monitor", summary="frozen", details={})
    assert build_message(everywhere)["blocks"][0]["text"]["text"] == (
        ":snowflake: monitor: every environment frozen"
    )
    ended = build_message(event("freeze.ended", big=False))
    assert ended["blocks"][0]["text"]["text"] == ":sunny: monitor: freeze on prod ended"


def test_huge_notes_are_cut_with_a_note_of_what_was_left_out() -> None:
    message = build_message(event("prerelease.cut", big=True))
    total = sum(len(b.get("text", {}).get("text", "")) for b in message["blocks"])
    assert total < 13_000  # msg_blocks_too_long starts near 13,200 (slackapi/bolt-js#2509)
    assert "more lines not shown" in message["blocks"][-2]["elements"][0]["text"]


def test_the_validator_catches_what_slack_refuses() -> None:
    too_many = {"text": "x", "blocks": [{"type": "divider"}] * 51}
    long_header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    assert problems(too_many) == ["51 blocks, over 50"]
    assert problems({"text": "x", "blocks": [long_header, fields]}) == [
        "block 0 (header): header text not plain_text of 1..150",
        "block 1 (section): 11 fields",
    ]
    assert problems({"text": "t" * 40_001, "blocks": []}) == [
        "text: missing or over 40000 characters"
    ]
