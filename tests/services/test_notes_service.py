from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from gitfixtures import BOB, DEPENDABOT, L10N_BOT, GitBuilder
from shipyard.errors import GitError, NotFound
from shipyard.services.notes import render_range
from shipyard.services.notes_range import split_range

PREFIXES = ["MNTOR"]
EXCLUDE = ["dependabot[bot]", "*-l10n*"]


@pytest.fixture
def repo(tmp_path: Path) -> GitBuilder:
    b = GitBuilder.init(tmp_path / "app")
    b.commit("Initial commit")
    b.tag("2024.09.01")
    b.pr(12, "MNTOR-12-login", "Add login form", ["Add login form", "Review fixes"])
    b.squash(13, "Fix logout crash MNTOR-13", body="Not CVE-2024-1234.")
    b.branch("dependabot/npm/lodash")
    b.commit("Bump lodash from 1.0 to 1.1", author=DEPENDABOT)
    b.merge_pr(14, "dependabot/npm/lodash", "Bump lodash from 1.0 to 1.1")
    b.commit("Pontoon: update de", author=L10N_BOT)
    b.tag("2024.09.02", annotated=False)
    b.squash(15, "Tidy README")
    return b


def test_range_markdown(repo: GitBuilder) -> None:
    text = render_range(
        repo.path, "2024.09.01..2024.09.02", prefixes=PREFIXES, exclude_authors=EXCLUDE,
        statuses={"MNTOR-12": "verified"},
    )  # fmt: skip
    assert text == (
        "# Release notes 2024.09.02\n"
        "\n"
        "2024.09.01..2024.09.02: 2 changes, 2 by excluded authors left out\n"
        "\n"
        "## Features\n"
        "\n"
        f"- Add login form (#12) by {BOB[0]} · MNTOR-12\n"
        "\n"
        "## Fixes\n"
        "\n"
        f"- Fix logout crash MNTOR-13 (#13) by {BOB[0]} · MNTOR-13\n"
        "\n"
        "## QA\n"
        "\n"
        "| Ticket | Status | Changes |\n"
        "| --- | --- | --- |\n"
        "| MNTOR-12 | verified | #12 |\n"
        "| MNTOR-13 | not seen by QA yet | #13 |\n"
    )


def test_range_json_and_title(repo: GitBuilder) -> None:
    doc = json.loads(
        render_range(repo.path, "2024.09.01..main", prefixes=PREFIXES, fmt="json", title="Stage")
    )
    assert (doc["title"], doc["range"], doc["count"], doc["excluded"]) == (
        "Stage", "2024.09.01..main", 5, 0,
    )  # fmt: skip
    other = next(s for s in doc["sections"] if s["key"] == "other")
    assert [c["title"] for c in other["changes"]] == [
        "Tidy README", "Pontoon: update de", "Bump lodash from 1.0 to 1.1",
    ]  # fmt: skip
    assert other["changes"][2]["author"] == DEPENDABOT[0]


def test_single_ref_means_since_previous_release(repo: GitBuilder) -> None:
    text = render_range(repo.path, "main", prefixes=PREFIXES, exclude_authors=EXCLUDE)
    assert "2024.09.02..main: 1 change\n" in text
    assert "Tidy README (#15)" in text
    # On a release tag itself: since the release before it.
    text = render_range(repo.path, "2024.09.02", prefixes=PREFIXES, exclude_authors=EXCLUDE)
    assert "2024.09.01..2024.09.02: 2 changes" in text
    # Before any release: the whole history.
    text = render_range(repo.path, "2024.09.01", prefixes=PREFIXES)
    assert "\n2024.09.01: 1 change\n" in text
    assert "Initial commit" in text


def test_empty_range(repo: GitBuilder) -> None:
    text = render_range(repo.path, "main..main", prefixes=PREFIXES)
    assert "main..main: 0 changes" in text
    assert "No tickets." in text


@pytest.mark.parametrize(
    ("rng", "message"),
    [
        ("foo", "unknown revision: foo"),
        ("foo..main", "unknown revision: foo"),
        ("2024.09.01..nope", "unknown revision: nope"),
        ("--output=/tmp/x..main", "unknown revision: '--output=/tmp/x'"),
    ],
)
def test_unknown_revisions(repo: GitBuilder, rng: str, message: str) -> None:
    with pytest.raises(NotFound) as info:
        render_range(repo.path, rng, prefixes=PREFIXES)
    assert info.value.message == message


def test_bad_range_and_repository(repo: GitBuilder, tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"^unsupported range 'a\.\.\.b': use A\.\.B$"):
        render_range(repo.path, "a...b", prefixes=PREFIXES)
    with pytest.raises(GitError, match=r"^not a git repository: "):
        render_range(tmp_path, "main", prefixes=PREFIXES)
    with pytest.raises(ValueError, match="unknown notes format"):
        render_range(repo.path, "main", prefixes=PREFIXES, fmt="xml")  # type: ignore[arg-type]


def test_garbage_collector_is_restored(repo: GitBuilder) -> None:
    assert gc.isenabled()
    render_range(repo.path, "main", prefixes=PREFIXES)
    assert gc.isenabled()
    with pytest.raises(NotFound):
        render_range(repo.path, "nope..main", prefixes=PREFIXES)
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        ("a..b", ("a", "b")),
        ("b", (None, "b")),
        ("..b", ("HEAD", "b")),
        ("a..", ("a", "HEAD")),
        (" a .. b ", ("a", "b")),
        ("", (None, "HEAD")),
    ],
)
def test_split_range(rng: str, expected: tuple[str | None, str]) -> None:
    assert split_range(rng) == expected


@pytest.mark.parametrize("rng", ["a...b", "a..b..c", "..a..", "a....b"])
def test_a_range_of_more_than_two_ends_is_refused_as_such(rng: str) -> None:
    with pytest.raises(GitError, match=r"^unsupported range .*: use A\.\.B$"):
        split_range(rng)


def test_import_is_light() -> None:
    """`shipyard notes` must start fast: the notes path imports the standard library only."""
    import subprocess
    import sys

    code = "import sys, shipyard.services.notes; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    heavy = {"pydantic", "sqlalchemy", "rich", "typer", "click", "httpx", "alembic", "tarfile"}
    # dataclasses imports inspect, a tenth of the command's start-up: named tuples instead
    heavy |= {"dataclasses", "inspect"}
    assert heavy.isdisjoint(m.split(".")[0] for m in out)
    ours = {m for m in out if m.startswith("shipyard")}
    assert ours <= {
        "shipyard", "shipyard.errors", "shipyard.adapters", "shipyard.adapters.git",
        "shipyard.adapters.git.ahead", "shipyard.adapters.git.repo",
        "shipyard.adapters.git.authors", "shipyard.adapters.git.memo",
        "shipyard.adapters.git.stream", "shipyard.core", "shipyard.core.changes",
        "shipyard.core.notes", "shipyard.core.tickets", "shipyard.services",
        "shipyard.services.notes", "shipyard.services.notes_range",
    }  # fmt: skip
