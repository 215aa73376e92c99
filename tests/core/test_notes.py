from __future__ import annotations

import json

import pytest

from shipyard.core.changes import Change
from shipyard.core.notes import (
    DEFAULT_GROUPS,
    AuthorFilter,
    GroupRule,
    Notes,
    build_notes,
    label_rules,
    render_json,
    render_markdown,
)


def change(
    title: str,
    *,
    pr: int | None = 1,
    author: str = "Bob Roe",
    email: str = "bob@example.com",
    tickets: tuple[str, ...] = (),
    is_revert: bool = False,
    is_rerevert: bool = False,
    sha: str = "",
    labels: tuple[str, ...] = (),
    url: str | None = None,
) -> Change:
    return Change(
        sha=sha or f"{abs(hash(title)):040x}"[:40],
        title=title,
        author=author,
        author_email=email,
        pr=pr,
        kind="squash" if pr else "direct",
        tickets=tickets,
        reverts=None,
        is_revert=is_revert,
        is_rerevert=is_rerevert,
        authored_at=1_725_000_000,
        labels=labels,
        url=url,
    )


def keys(notes: Notes) -> dict[str, list[str]]:
    return {s.key: [c.title for c in s.changes] for s in notes.sections}


def test_default_groups_first_match_wins() -> None:
    notes = build_notes(
        [
            change("Add login form"),
            change("feat(api): token refresh"),
            change("Fix crash on logout"),
            change("hotfix: broken header"),
            change('Revert "Add login form"', is_revert=True),
            change('Revert "Revert "Fix x""', is_rerevert=True),
            change("Update docs"),
            change("Additional logging"),  # "add" must be a whole word
            change("Fixture cleanup"),  # so must "fix"
        ]
    )
    assert keys(notes) == {
        "features": ["Add login form", "feat(api): token refresh"],
        "fixes": ["Fix crash on logout", "hotfix: broken header"],
        "reverts": ['Revert "Add login form"', 'Revert "Revert "Fix x""'],
        "other": ["Update docs", "Additional logging", "Fixture cleanup"],
    }
    assert [s.title for s in notes.sections] == ["Features", "Fixes", "Reverts", "Other changes"]
    assert notes.count == 9
    assert notes.excluded == 0


def test_empty_sections_are_left_out() -> None:
    notes = build_notes([change("Fix a"), change("Tidy b")])
    assert [s.key for s in notes.sections] == ["fixes", "other"]
    assert build_notes([]).sections == ()


def test_custom_groups_and_implicit_catch_all() -> None:
    groups = [GroupRule("deps", "Dependencies", r"^bump\b"), GroupRule("ui", "UI", r"\bcss\b")]
    notes = build_notes(
        [change("Bump lodash"), change("Fix CSS grid"), change("Something")], groups=groups
    )
    assert keys(notes) == {
        "deps": ["Bump lodash"],
        "ui": ["Fix CSS grid"],
        "other": ["Something"],
    }


def test_bad_group_pattern() -> None:
    with pytest.raises(ValueError, match=r"group 'x': bad pattern '\('"):
        GroupRule("x", "X", "(")


def test_group_rule_matches() -> None:
    features, fixes, reverts, other = DEFAULT_GROUPS
    assert features.matches(change("ADD thing"))
    assert not features.matches(change("Adding thing"))
    assert reverts.matches(change("x", is_rerevert=True))
    assert not reverts.matches(change("x"))
    assert other.catch_all and other.matches(change("anything"))
    assert not fixes.catch_all


@pytest.mark.parametrize(
    ("patterns", "name", "email", "excluded"),
    [
        (
            ["dependabot[bot]"],
            "dependabot[bot]",
            "49699333+dependabot[bot]@users.noreply.github.com",
            True,
        ),
        (["dependabot[bot]"], "dependabot", "x@y", False),
        (["*-l10n*"], "mozilla-l10n-automation-bot", "bot@example.com", True),
        (["*-l10n*"], "Translator", "team-l10n@example.com", True),
        (["*-l10n*"], "l10n", "l10n@example.com", False),
        (["renovate*"], "Renovate Bot", "bot@renovateapp.com", True),  # case-insensitive
        (["bob@example.com"], "Bob", "BOB@example.com", True),
        ([], "anyone", "a@b", False),
    ],
)
def test_author_filter(patterns: list[str], name: str, email: str, excluded: bool) -> None:
    assert AuthorFilter(patterns)(name, email) is excluded


def test_excluded_authors_are_counted_not_listed() -> None:
    notes = build_notes(
        [
            change("Bump lodash from 1 to 2", author="dependabot[bot]", tickets=("MNTOR-9",)),
            change("Pontoon: update de", author="mozilla-l10n-automation-bot", pr=None),
            change("Add thing", tickets=("MNTOR-1",)),
        ],
        exclude_authors=["dependabot[bot]", "*-l10n*"],
    )
    assert keys(notes) == {"features": ["Add thing"]}
    assert notes.excluded == 2
    assert [t.key for t in notes.tickets] == ["MNTOR-1"]  # an excluded change adds no ticket


def test_tickets_with_statuses() -> None:
    a = change("Add a", pr=1, tickets=("MNTOR-10", "MNTOR-2"))
    b = change("Fix b", pr=2, tickets=("MNTOR-2",))
    notes = build_notes([a, b], statuses={"MNTOR-2": "verified", "MNTOR-99": "open"})
    assert [(t.key, t.status, [c.pr for c in t.changes]) for t in notes.tickets] == [
        ("MNTOR-2", "verified", [1, 2]),
        ("MNTOR-10", "not seen by QA yet", [1]),
    ]


def test_render_markdown() -> None:
    notes = build_notes(
        [
            change("Add login", pr=12, tickets=("MNTOR-1", "MNTOR-2")),
            change("Fix logout", pr=13, author="Alice", tickets=("MNTOR-2",)),
            change("Tidy | pipes", pr=None, sha="abcdef0123" + "0" * 30),
            change("Bump x", author="dependabot[bot]"),
        ],
        exclude_authors=["dependabot[bot]"],
        statuses={"MNTOR-1": "ready for QA", "MNTOR-2": "verified|done"},
    )
    assert render_markdown(notes, title="Release 2024.09.02", range_label="A..B") == (
        "# Release 2024.09.02\n"
        "\n"
        "A..B: 3 changes, 1 by excluded authors left out\n"
        "\n"
        "## Features\n"
        "\n"
        "- Add login (#12) by Bob Roe · MNTOR-1, MNTOR-2\n"
        "\n"
        "## Fixes\n"
        "\n"
        "- Fix logout (#13) by Alice · MNTOR-2\n"
        "\n"
        "## Other changes\n"
        "\n"
        "- Tidy | pipes (abcdef0123) by Bob Roe\n"
        "\n"
        "## QA\n"
        "\n"
        "| Ticket | Status | Changes |\n"
        "| --- | --- | --- |\n"
        "| MNTOR-1 | ready for QA | #12 |\n"
        "| MNTOR-2 | verified\\|done | #12, #13 |\n"
    )


def test_render_markdown_empty() -> None:
    text = render_markdown(build_notes([]), title="Notes", range_label="A..A")
    assert text == "# Notes\n\nA..A: 0 changes\n\n## QA\n\nNo tickets.\n"


def test_render_json_shape() -> None:
    c = change("Add login", pr=12, tickets=("MNTOR-1",), sha="a" * 40)
    notes = build_notes([c, change("Bump", author="dependabot[bot]")],
                        exclude_authors=["dependabot[bot]"])  # fmt: skip
    doc = json.loads(render_json(notes, title="T", range_label="A..B"))
    assert list(doc) == ["schema", "title", "range", "count", "excluded", "sections", "tickets"]
    assert doc["schema"] == 1
    assert (doc["title"], doc["range"], doc["count"], doc["excluded"]) == ("T", "A..B", 1, 1)
    assert doc["sections"] == [
        {
            "key": "features",
            "title": "Features",
            "changes": [
                {
                    "sha": "a" * 40,
                    "title": "Add login",
                    "author": "Bob Roe",
                    "author_email": "bob@example.com",
                    "pr": 12,
                    "kind": "squash",
                    "tickets": ["MNTOR-1"],
                    "reverts": None,
                    "is_revert": False,
                    "is_rerevert": False,
                    "authored_at": 1_725_000_000,
                    "labels": [],
                    "url": None,
                }
            ],
        }
    ]
    assert doc["tickets"] == [
        {"key": "MNTOR-1", "status": "not seen by QA yet", "changes": ["a" * 40]}
    ]


def test_render_json_is_stable_and_unicode() -> None:
    notes = build_notes([change("Ajout ✓ des accents é")])
    one = render_json(notes, title="T", range_label="r")
    assert one == render_json(notes, title="T", range_label="r")
    assert "Ajout ✓ des accents é" in one


def test_label_rules_come_first_and_the_first_matching_label_wins() -> None:
    rules = label_rules({"type: bug": "Fixes", "Type: Feature": "Features", "deps": "Dependencies"})
    notes = build_notes(
        [
            change("KAFKA-1: consumer lag", labels=("type: feature", "TYPE: BUG")),
            change("KAFKA-2: new metric", labels=("type: feature",)),
            change("Bump netty", labels=("deps",)),
            change("Fix flaky test"),  # no label: the title rules still apply
            change("KAFKA-3: tidy", labels=("docs",)),  # no label rule: falls through
        ],
        groups=[*rules, *DEFAULT_GROUPS],
    )
    assert [(s.key, s.title) for s in notes.sections] == [
        ("fixes", "Fixes"),
        ("features", "Features"),
        ("dependencies", "Dependencies"),
        ("other", "Other changes"),
    ]
    assert keys(notes) == {
        "fixes": ["KAFKA-1: consumer lag", "Fix flaky test"],
        "features": ["KAFKA-2: new metric"],
        "dependencies": ["Bump netty"],
        "other": ["KAFKA-3: tidy"],
    }


def test_a_rule_with_labels_only_is_no_catch_all() -> None:
    rule = GroupRule("deps", "Dependencies", labels=("dependencies",))
    assert not rule.catch_all
    assert not rule.matches(change("Bump x"))
    assert rule.matches(change("Bump x", labels=("Dependencies",)))
    both = GroupRule("fixes", "Fixes", pattern=r"^fix\b", labels=("bug",))
    assert both.matches(change("Fix x")) and both.matches(change("Crash", labels=("bug",)))


def test_markdown_links_a_pr_the_forge_described() -> None:
    url = "https://github.com/acme/web/pull/12"
    c = change("Add login", pr=12, author="octocat", labels=("feature",), url=url)
    text = render_markdown(build_notes([c]), title="T", range_label="A..B")
    assert f"- Add login ([#12]({url})) by @octocat\n" in text
    doc = json.loads(render_json(build_notes([c]), title="T", range_label="A..B"))
    assert doc["sections"][0]["changes"][0]["labels"] == ["feature"]
    assert doc["sections"][0]["changes"][0]["url"] == url
