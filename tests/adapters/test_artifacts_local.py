"""The local artifact store on real git repositories: each file's content is kept once,
hard-linked read-only into the artifacts, and the digest is the same content digest as
an export of the tree (``tree_digest``) gives."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from gitfixtures import GitBuilder
from shipyard.adapters.artifacts import ArtifactError
from shipyard.adapters.artifacts.local import LocalArtifactStore, tree_digest
from shipyard.adapters.git import GitRepo
from shipyard.services.build_source import CommitSource

VERSION = {"version.json": b'{"commit": "x"}\n'}


@pytest.fixture
def builder(tmp_path: Path) -> GitBuilder:
    b = GitBuilder.init(tmp_path / "repo")
    b.commit("Initial", files={"README.md": "hello\n", "app/main.py": "print(1)\n"})
    (b.path / "tool.sh").write_text("#!/bin/sh\necho hello\n")
    (b.path / "tool.sh").chmod(0o755)
    (b.path / "app" / "same.txt").write_text("#!/bin/sh\necho hello\n")  # tool.sh's content
    (b.path / "docs").mkdir()
    (b.path / "docs" / "readme").symlink_to("../README.md")
    b.git("add", "-A")
    b.commit("Tool", files={"version.json": "from the repository\n"})
    return b


def source(builder: GitBuilder, ref: str, tmp_path: Path) -> CommitSource:
    sha = builder.head(ref)
    return CommitSource(GitRepo(builder.path), sha, VERSION, tmp_path / f"export-{sha[:7]}")


def exported_digest(builder: GitBuilder, ref: str, where: Path) -> str:
    """The digest of the old way: ``git archive`` into a folder, plus version.json."""
    GitRepo(builder.path).export_tree(builder.head(ref), where)
    (where / "version.json").write_bytes(VERSION["version.json"])
    return tree_digest(where)


def test_an_artifact_has_the_digest_of_its_export(builder: GitBuilder, tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    digest = store.publish("monitor", builder.head(), source(builder, "HEAD", tmp_path))
    assert digest is not None
    assert digest == exported_digest(builder, "HEAD", tmp_path / "plain")
    art = store.path("monitor", digest)
    assert tree_digest(art) == digest
    assert (art / "version.json").read_bytes() == VERSION["version.json"]  # replaces the commit's
    assert os.readlink(art / "docs" / "readme") == "../README.md"
    assert (art / "tool.sh").stat().st_mode & 0o777 == 0o555
    assert (art / "app" / "same.txt").stat().st_mode & 0o777 == 0o444
    assert store.resolve("monitor", builder.head()[:7]) == digest
    assert not [
        p for p in (tmp_path / "artifacts" / "monitor" / "blobs").iterdir() if p.name != art.name
    ]


def test_a_later_build_links_the_objects_it_has_without_reading_them(
    builder: GitBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest comes from the tree's blob ids: an object already stored is linked, never
    opened again, and the artifact still has its export's digest."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    assert store.publish("monitor", builder.head(), source(builder, "HEAD", tmp_path))
    builder.commit("Change", files={"README.md": "hello again\n"})
    objects = str(tmp_path / "artifacts" / ".objects")
    opened: list[str] = []
    real_open, real_os_open = open, os.open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(os.fsdecode(file) if isinstance(file, str | bytes | Path) else "")
        return real_open(file, *args, **kwargs)

    def os_spy(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fsdecode(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    monkeypatch.setattr(os, "open", os_spy)
    second = store.publish("monitor", builder.head(), source(builder, "HEAD", tmp_path))
    monkeypatch.undo()
    reads = [p for p in opened if p.startswith(objects)]
    assert len(reads) == 1  # the changed README's new object, written; nothing read back
    assert second == exported_digest(builder, "HEAD", tmp_path / "plain")
    assert tree_digest(store.path("monitor", second)) == second


def test_builds_share_the_files_they_have_in_common(builder: GitBuilder, tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    first = store.publish("monitor", builder.head(), source(builder, "HEAD", tmp_path))
    objects = sorted((tmp_path / "artifacts" / ".objects").rglob("*"))
    builder.commit("Change", files={"README.md": "hello again\n"})
    second = store.publish("monitor", builder.head(), source(builder, "HEAD", tmp_path))
    assert first and second and first != second
    one, two = store.path("monitor", first), store.path("monitor", second)
    assert (one / "app" / "main.py").stat().st_ino == (two / "app" / "main.py").stat().st_ino
    assert (one / "README.md").stat().st_ino != (two / "README.md").stat().st_ino
    assert (one / "README.md").read_text() == "hello\n"
    new = sorted(set((tmp_path / "artifacts" / ".objects").rglob("*")) - set(objects))
    assert len([p for p in new if p.is_file()]) == 1  # only the changed file's content
    assert second == exported_digest(builder, "HEAD", tmp_path / "plain2")


def test_the_same_commit_twice_is_one_artifact(builder: GitBuilder, tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    sha = builder.head()
    assert store.publish("a", sha, source(builder, "HEAD", tmp_path)) == store.put(
        "a", source(builder, "HEAD", tmp_path).export()
    )
    assert len(list((tmp_path / "artifacts" / "a" / "blobs").iterdir())) == 1


def test_put_keeps_a_folder_and_leaves_it_alone(builder: GitBuilder, tmp_path: Path) -> None:
    src = tmp_path / "folder"
    want = exported_digest(builder, "HEAD", src)
    before = {p: p.stat().st_mode for p in src.rglob("*")}
    store = LocalArtifactStore(tmp_path / "artifacts")
    assert store.put("monitor", src) == want
    assert {p: p.stat().st_mode for p in src.rglob("*")} == before
    assert stat.S_IMODE((src / "README.md").stat().st_mode) & 0o200  # still writable


def test_a_symlink_out_of_the_tree_is_refused_and_leaves_nothing(
    builder: GitBuilder, tmp_path: Path
) -> None:
    (builder.path / "escape").symlink_to("../../outside")
    builder.git("add", "escape")
    builder.commit("Escape")
    store = LocalArtifactStore(tmp_path / "artifacts")
    with pytest.raises(ArtifactError, match=r"symlink 'escape' points outside the tree"):
        store.publish("monitor", builder.head(), source(builder, "HEAD", tmp_path))
    assert store.tags("monitor") == {}
    assert list((tmp_path / "artifacts" / "monitor" / "blobs").iterdir()) == []


def test_export_attributes_go_through_git_archive(builder: GitBuilder, tmp_path: Path) -> None:
    builder.commit(
        "Attributes",
        files={".gitattributes": "secret.txt export-ignore\n", "secret.txt": "not shipped\n"},
    )
    src = source(builder, "HEAD", tmp_path)
    assert src.files() is None
    store = LocalArtifactStore(tmp_path / "artifacts")
    digest = store.publish("monitor", builder.head(), src)
    assert digest is not None
    art = store.path("monitor", digest)
    assert not (art / "secret.txt").exists() and (art / "README.md").exists()
    assert digest == exported_digest(builder, "HEAD", tmp_path / "plain")
