"""Two clones of one remote on one database (the shape of two replicas, each with its
own clone): with ``[app] remote``, each fetches main and the tags before reading them
and pushes the release tags it cuts, so neither works from a stale clone."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project, make_project, stop_all
from shipyard.config import parse
from shipyard.errors import ConfigError

BO = ("Bo Dev", "bo@example.com")


def _git(where: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=where, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


@pytest.fixture
def clones(tmp_path: Path) -> Iterator[tuple[Project, Project, Path]]:
    """The developers' repository, a bare remote made from it, and two clones of the remote
    whose shipyard.toml fetches from it. The clones share a state directory (the local
    artifact store and runtime live on one disk) and its SQLite database."""
    state = tmp_path / "state"
    dev = make_project(
        tmp_path / "dev",
        f'\n[state]\ndir = "{state}"\ndatabase_url = "sqlite:///{state / "shipyard.db"}"\n',
    )
    toml = dev.path / "shipyard.toml"
    toml.write_text(toml.read_text().replace("[app]\n", '[app]\nremote = "origin"\n', 1))
    dev.repo.commit("Fetch from origin", {"shipyard.toml": toml.read_text()}, author=BO)
    remote = tmp_path / "origin.git"
    _git(tmp_path, "clone", "--quiet", "--bare", str(dev.path), str(remote))
    made = []
    for name in ("a", "b"):
        _git(tmp_path, "clone", "--quiet", str(remote), name)
        made.append(Project(type(dev.repo)(tmp_path / name), dev.ports))
    try:
        yield made[0], made[1], remote
    finally:
        for p in made:
            stop_all(p)


def test_each_clone_fetches_main_and_tags_and_pushes_the_tags_it_cuts(
    clones: tuple[Project, Project, Path],
) -> None:
    a, b, remote = clones
    a.ok("sync")  # stage runs the remote's head
    first = a.head()
    # A merge reaches the remote; b has never seen it.
    dev = remote.parent / "dev"
    new = Project(type(a.repo)(dev), a.ports).repo.squash_pr(
        2, "Add alerts MNTOR-2", {"alerts.txt": "on\n"}, author=BO
    )
    _git(dev, "push", "--quiet", str(remote), "main")
    assert b.head() == first
    b.ok("sync", "--no-deploy")
    assert _git(b.path, "rev-parse", "refs/heads/main").strip() == new
    assert new[:7] in b.ok("builds").out

    cut = a.ok("prerelease").out
    tag = cut.split("pre-release ", 1)[1].split()[0]
    assert f"refs/tags/{tag}" in _git(remote, "ls-remote", "--tags", str(remote))
    a.ok("sync")  # stage follows the merge
    # b cuts the next pre-release of the day: it knows a's tag, so it numbers after it.
    cut = b.ok("prerelease").out
    assert f"pre-release {tag}.1 cut on {new[:7]}" in cut, cut
    remote_tags = _git(remote, "tag", "--list").split()
    assert remote_tags == [tag, f"{tag}.1"]
    assert sorted(b.git_tags()) == remote_tags


def test_a_remote_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"app -> remote"):
        parse(
            {
                "app": {"name": "m", "run": "true", "remote": "--upload-pack=evil"},
                "environments": {"stage": {"port": 18121}},
            },
            root=tmp_path,
        )
