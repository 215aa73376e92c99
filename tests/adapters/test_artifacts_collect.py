"""Removing artifacts from the local store: the folder and its tags go, then the stored
files no artifact links any more; what another artifact shares stays."""

from __future__ import annotations

import threading
from pathlib import Path

from gitfixtures import GitBuilder
from shipyard.adapters.artifacts.local import LocalArtifactStore, tree_digest
from shipyard.adapters.git import GitRepo
from shipyard.services.build_source import CommitSource


def publish(store: LocalArtifactStore, builder: GitBuilder, tmp_path: Path) -> str:
    sha = builder.head()
    extra = {"version.json": f'{{"commit": "{sha}"}}\n'.encode()}
    src = CommitSource(GitRepo(builder.path), sha, extra, tmp_path / f"export-{sha[:7]}")
    digest = store.publish("monitor", sha, src)
    assert digest is not None
    return digest


def objects(root: Path) -> set[Path]:
    return {p for p in (root / ".objects").rglob("*") if p.is_file()}


def test_remove_then_prune_frees_only_what_nothing_else_uses(tmp_path: Path) -> None:
    builder = GitBuilder.init(tmp_path / "repo")
    builder.commit("One", files={"shared.txt": "the same in both\n", "one.txt": "only one\n"})
    store = LocalArtifactStore(tmp_path / "artifacts")
    first = publish(store, builder, tmp_path)
    first_sha = builder.head()
    before = objects(store.root)
    builder.git("rm", "-q", "one.txt")
    builder.commit("Two", files={"two.txt": "only two\n"})
    second = publish(store, builder, tmp_path)
    store.tag("monitor", "stage-1", first)

    tags = ", ".join(sorted(["stage-1", first_sha[:7]]))
    assert store.remove("monitor", first) == f"removed (tags {tags})"
    assert not store.exists("monitor", first)
    assert store.tags("monitor") == {builder.head()[:7]: second}
    files, freed = store.prune()
    # one.txt and the first version.json were the first artifact's alone
    assert files == 2 and freed == len("only one\n") + len(f'{{"commit": "{first_sha}"}}\n')
    after = objects(store.root)
    assert len(before - after) == 2
    art = store.path("monitor", second)
    assert tree_digest(art) == second  # the other artifact is whole
    assert (art / "shared.txt").read_text() == "the same in both\n"
    assert store.prune() == (0, 0)  # nothing more to free
    assert store.remove("monitor", first) == "already gone"


def test_collecting_waits_for_a_build_that_is_storing(tmp_path: Path) -> None:
    """The store's lock: prune never runs while an artifact is being laid out."""
    builder = GitBuilder.init(tmp_path / "repo")
    builder.commit("One", files={"a.txt": "a\n"})
    store = LocalArtifactStore(tmp_path / "artifacts")
    events: list[str] = []
    with store._locked(exclusive=False):  # a build storing its artifact
        t = threading.Thread(target=lambda: events.append(f"pruned {store.prune()}"))
        t.start()
        t.join(timeout=0.5)
        assert t.is_alive()  # waiting for the lock, not pruning
        digest = publish(store, builder, tmp_path)  # others may store meanwhile
        events.append("stored")
    t.join(timeout=30)
    assert events == ["stored", "pruned (0, 0)"]
    assert tree_digest(store.path("monitor", digest)) == digest
