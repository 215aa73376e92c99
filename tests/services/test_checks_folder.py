"""Build slots: a folder per slot kept between builds, each locked by one build at a time,
and the checks of every build seeing exactly their commit's files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from gitfixtures import GitBuilder
from shipyard.config import parse
from shipyard.services.build_run import run_build
from shipyard.services.builds import record_new_builds
from shipyard.services.checks_folder import slot
from shipyard.services.context import Context, open_context

# The check fails if anything but the commit's files is there, then leaves junk behind.
CHECK = (
    'test "$(find . | sort | tr "\\n" " ")" = "$(cat expected.txt)" '
    "&& mkdir -p junk && echo x > junk/left && echo changed >> app.py"
)


def listing(files: dict[str, str]) -> str:
    """What ``find . | sort`` prints for ``files`` (plus their folders), on one line."""
    names = {".", *(f"./{p}" for p in files)}
    for p in files:
        parts = p.split("/")[:-1]
        names |= {"./" + "/".join(parts[: i + 1]) for i in range(len(parts))}
    return " ".join(sorted(names)) + " "


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[tuple[Context, GitBuilder]]:
    b = GitBuilder.init(tmp_path / "app")
    settings = parse(
        {
            "app": {"name": "tree", "run": "true", "repo": "app"},
            "environments": {"stage": {"port": 1, "auto": True}},
            "checks": {"tree": CHECK, "parallel": 2},
            "state": {"dir": str(tmp_path / "state")},
        },
        root=tmp_path,
    )
    c = open_context(settings, actor="test")
    try:
        yield c, b
    finally:
        c.close()


def commit(b: GitBuilder, files: dict[str, str]) -> None:
    everything = {**files, "expected.txt": ""}
    b.commit("Change", files={**files, "expected.txt": listing(everything).rstrip(" ") + " "})


def test_each_build_checks_exactly_its_commit_in_a_kept_folder(
    ctx: tuple[Context, GitBuilder], tmp_path: Path
) -> None:
    c, b = ctx
    commit(b, {"app.py": "1\n", "lib/util.py": "u\n", "lib/old.py": "o\n"})
    first = record_new_builds(c)
    assert [run_build(c, x) for x in first] == [True]
    folder = tmp_path / "state" / "work" / "checks-0"
    util = (folder / "lib" / "util.py").stat().st_ino
    b.git("rm", "-q", "lib/old.py")
    commit(b, {"app.py": "2\n", "lib/util.py": "u\n", "docs/new.md": "n\n"})
    second = record_new_builds(c)
    assert [run_build(c, x) for x in second] == [True]  # no junk, no old file, app.py as committed
    assert (folder / "lib" / "util.py").stat().st_ino == util  # the same file, not rewritten
    assert (folder / "app.py").read_text() == "2\nchanged\n"  # what the check left
    assert not list((tmp_path / "state" / "work").glob("build-*"))  # no fresh copy left


def test_a_slot_is_one_builds_at_a_time(ctx: tuple[Context, GitBuilder], tmp_path: Path) -> None:
    c, _ = ctx
    with ExitStack() as stack:
        taken = [stack.enter_context(slot(c)) for _ in range(3)]
    work = tmp_path / "state" / "work"
    assert taken == [work / "checks-0", work / "checks-1", None]  # [checks] parallel = 2
    with slot(c) as again:
        assert again == work / "checks-0"  # free again once its build ended
