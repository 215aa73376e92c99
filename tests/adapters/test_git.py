from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitfixtures import ALICE, BOB, MERGER, GitBuilder
from shipyard.adapters.git import GitRepo
from shipyard.core.changes import CommitInfo
from shipyard.errors import GitError, NotFound


@pytest.fixture
def builder(tmp_path: Path) -> GitBuilder:
    b = GitBuilder.init(tmp_path / "repo")
    b.commit("Initial commit", files={"README.md": "hello\n"})
    return b


@pytest.fixture
def repo(builder: GitBuilder) -> GitRepo:
    return GitRepo(builder.path)


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"^not a git repository: "):
        GitRepo(tmp_path)
    with pytest.raises(GitError, match=r"^not a git repository: .*missing$"):
        GitRepo(tmp_path / "missing")


def test_subdirectory_and_bare_repository(builder: GitBuilder, tmp_path: Path) -> None:
    (builder.path / "src").mkdir(exist_ok=True)
    assert GitRepo(builder.path / "src").rev_parse("HEAD") == builder.head()
    builder.git("clone", "--quiet", "--bare", str(builder.path), str(tmp_path / "bare.git"))
    assert GitRepo(tmp_path / "bare.git").rev_parse("main") == builder.head()


def test_run_reports_git_first_stderr_line(repo: GitRepo) -> None:
    with pytest.raises(GitError) as info:
        repo.run("cat-file", "-p", "nope")
    assert "\n" not in info.value.message
    assert info.value.message.startswith("Not a valid object name")


def test_run_raises_git_error_even_for_unknown_revisions(repo: GitRepo) -> None:
    with pytest.raises(GitError, match=r"^bad revision 'nope'$"):
        repo.run("log", "nope", "--")


def test_run_passes_input(repo: GitRepo) -> None:
    assert (
        repo.run("hash-object", "--stdin", input="x\n").strip()
        == repo.run("hash-object", "--stdin", input="x\n").strip()
    )


def test_rev_parse(builder: GitBuilder, repo: GitRepo) -> None:
    head = builder.head()
    assert repo.rev_parse("main") == head
    assert repo.rev_parse("HEAD") == head
    assert repo.rev_parse(head[:8]) == head
    assert repo.rev_parse("no-such-ref") is None
    assert repo.rev_parse("--output=x") is None
    assert repo.rev_parse("-h") is None
    assert repo.rev_parse("") is None
    assert not (builder.path / "x").exists()


def test_rev_parse_peels_annotated_tags(builder: GitBuilder, repo: GitRepo) -> None:
    builder.tag("2024.09.01")
    assert repo.rev_parse("2024.09.01") == builder.head()
    assert repo.tag_target("2024.09.01") == builder.head()
    assert repo.tag_target("2024.09.02") is None


def test_resolve_raises_not_found(repo: GitRepo) -> None:
    with pytest.raises(NotFound, match=r"^unknown revision: foo$"):
        repo.resolve("foo")


def test_is_ancestor(builder: GitBuilder, repo: GitRepo) -> None:
    first = builder.head()
    second = builder.commit("Second")
    assert repo.is_ancestor(first, second)
    assert repo.is_ancestor(second, second)
    assert not repo.is_ancestor(second, first)
    with pytest.raises(GitError):
        repo.is_ancestor("nope", second)
    with pytest.raises(NotFound):
        repo.is_ancestor("--all", second)


def test_head_of(builder: GitBuilder, repo: GitRepo) -> None:
    builder.branch("stage")
    stage = builder.commit("On stage")
    assert repo.head_of("stage") == stage
    assert repo.head_of("main") != stage
    assert repo.head_of("nope") is None


def _history(builder: GitBuilder) -> dict[str, str]:
    """main: init - A - M(#1: b1, b2) - S (squash)."""
    shas = {"init": builder.head(), "a": builder.commit("Direct change")}
    builder.branch("feature")
    shas["b1"] = builder.commit("Branch one", author=BOB)
    shas["b2"] = builder.commit("Branch two", author=BOB)
    shas["m"] = builder.merge_pr(1, "feature", "Add feature")
    shas["s"] = builder.squash(2, "Fix bug")
    return shas


def test_first_parent_shas(builder: GitBuilder, repo: GitRepo) -> None:
    s = _history(builder)
    assert repo.first_parent_shas(s["a"], "main") == [s["m"], s["s"]]
    assert repo.first_parent_shas(None, "main") == [s["init"], s["a"], s["m"], s["s"]]
    with pytest.raises(NotFound):
        repo.first_parent_shas("-x", "main")


def test_iter_commits(builder: GitBuilder, repo: GitRepo) -> None:
    s = _history(builder)
    commits = list(repo.iter_commits(s["init"], "main"))
    assert [c.sha for c in commits] == [s["s"], s["m"], s["a"]]
    merge = commits[1]
    assert merge.parents == (s["a"], s["b2"])
    assert (merge.author_name, merge.author_email) == MERGER
    assert merge.message == "Merge pull request #1 from org/feature\n\nAdd feature"
    assert merge.subject == "Merge pull request #1 from org/feature"
    assert commits[0].message == "Fix bug (#2)"
    assert isinstance(commits[0].authored_at, int)
    assert commits[0].authored_at > merge.authored_at

    everything = [c.sha for c in repo.iter_commits(s["init"], "main", first_parent=False)]
    assert set(everything) == {s["a"], s["b1"], s["b2"], s["m"], s["s"]}
    assert [c.sha for c in repo.iter_commits(None, s["a"])] == [s["a"], s["init"]]


def test_iter_commits_multiline_and_unicode(builder: GitBuilder, repo: GitRepo) -> None:
    message = "Héllo wörld ✓\n\nBody line\n\n  indented\n\nCo-authored-by: X <x@y>"
    sha = builder.commit(message, author=("Zoë Ünal", "zoe@example.com"))
    info = repo.commit(sha)
    assert info == CommitInfo(
        sha=sha,
        parents=(repo.resolve("HEAD~1"),),
        author_name="Zoë Ünal",
        author_email="zoe@example.com",
        authored_at=info.authored_at,
        message=message,
    )


def test_iter_commits_streams_across_chunks(builder: GitBuilder, repo: GitRepo) -> None:
    # Messages larger than one pipe read force records to straddle chunks.
    big = "x" * 70_000
    shas = [builder.commit(f"Big {i}\n\n{big}") for i in range(3)]
    got = list(repo.iter_commits(None, "main"))
    assert [c.sha for c in got[:3]] == shas[::-1]
    assert all(c.message.endswith(big) for c in got[:3])


def test_iter_commits_stopped_early_ends_git(builder: GitBuilder, repo: GitRepo) -> None:
    for i in range(5):
        builder.commit(f"Commit {i}")
    it = repo.iter_commits(None, "main")
    first = next(it)
    it.close()  # must not leave a running git (ResourceWarning is an error here)
    assert first.message == "Commit 4"


def test_iter_commits_unknown_revision(repo: GitRepo) -> None:
    with pytest.raises(NotFound, match=r"^unknown revision: nope$"):
        list(repo.iter_commits(None, "nope"))
    with pytest.raises(NotFound, match=r"^unknown revision: nope$"):
        list(repo.iter_commits("nope", "main"))
    with pytest.raises(NotFound):
        list(repo.iter_commits("--all", "main"))


def test_commit_unknown(repo: GitRepo) -> None:
    with pytest.raises(NotFound, match=r"^unknown revision: deadbeef$"):
        repo.commit("deadbeef")


def test_authors_of(builder: GitBuilder, repo: GitRepo) -> None:
    s = _history(builder)
    got = repo.authors_of([s["b2"], s["a"], s["b2"]])
    assert got == {s["b2"]: BOB, s["a"]: ALICE}
    assert repo.authors_of([]) == {}


def test_tags(builder: GitBuilder, repo: GitRepo) -> None:
    first = builder.head()
    builder.tag("2024.09.01")
    second = builder.commit("Second")
    builder.tag("2024.09.02", annotated=False)
    builder.branch("side", start=first)
    builder.commit("Side")
    builder.tag("side-tag")
    assert repo.tags() == ["2024.09.01", "2024.09.02", "side-tag"]
    assert repo.merged_tags(second) == ["2024.09.01", "2024.09.02"]
    assert repo.merged_tags(first) == ["2024.09.01"]
    assert repo.tag_target("2024.09.02") == second


def test_create_and_delete_tag(builder: GitBuilder, repo: GitRepo) -> None:
    head = builder.head()
    repo.create_tag(
        "2024.09.03", "main", "Release 2024.09.03\n\nNotes", tagger_name="Rel Bot",
        tagger_email="rel@example.com",
    )  # fmt: skip
    assert repo.tag_target("2024.09.03") == head
    assert builder.git("cat-file", "-t", "2024.09.03") == "tag"
    assert builder.git("for-each-ref", "--format=%(taggername) %(taggeremail)",
                       "refs/tags/2024.09.03") == "Rel Bot <rel@example.com>"  # fmt: skip
    assert builder.git("tag", "-l", "--format=%(contents)", "2024.09.03") == (
        "Release 2024.09.03\n\nNotes"
    )
    with pytest.raises(GitError, match=r"^tag already exists: 2024.09.03$"):
        repo.create_tag("2024.09.03", head, "again", tagger_name="x", tagger_email="x@y")
    with pytest.raises(NotFound, match=r"^unknown revision: nope$"):
        repo.create_tag("t", "nope", "m", tagger_name="x", tagger_email="x@y")
    repo.delete_tag("2024.09.03")
    assert repo.tags() == []
    with pytest.raises(NotFound, match=r"^unknown tag: 2024.09.03$"):
        repo.delete_tag("2024.09.03")


def test_export_tree(builder: GitBuilder, repo: GitRepo, tmp_path: Path) -> None:
    old = builder.commit("Files", files={"app/main.py": "print(1)\n", "README.md": "v1\n"})
    (builder.path / "tool.sh").write_text("#!/bin/sh\n")
    (builder.path / "tool.sh").chmod(0o755)
    builder.git("add", "tool.sh")
    builder.commit("Tool", files={"README.md": "v2\n"})
    # Uncommitted and staged changes must survive an export untouched.
    (builder.path / "README.md").write_text("dirty\n")
    builder.git("add", "README.md")
    index_before = builder.git("diff", "--cached", "--stat")

    dest = tmp_path / "out" / "old"
    repo.export_tree(old, dest)
    assert (dest / "README.md").read_text() == "v1\n"
    assert (dest / "app" / "main.py").read_text() == "print(1)\n"
    assert not (dest / "tool.sh").exists()

    repo.export_tree("main", tmp_path / "new")
    assert (tmp_path / "new" / "README.md").read_text() == "v2\n"
    assert (tmp_path / "new" / "tool.sh").stat().st_mode & 0o111

    assert (builder.path / "README.md").read_text() == "dirty\n"
    assert builder.git("diff", "--cached", "--stat") == index_before
    with pytest.raises(NotFound):
        repo.export_tree("nope", tmp_path / "x")


def test_user_email(builder: GitBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-config"))
    builder.git("config", "user.email", "me@example.com")
    assert GitRepo(builder.path).user_email() == "me@example.com"
    builder.git("config", "--unset", "user.email")
    assert GitRepo(builder.path).user_email() is None


def test_git_env_of_another_repo_is_ignored(
    builder: GitBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = GitBuilder.init(tmp_path / "other")
    other.commit("Other")
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    assert GitRepo(builder.path).rev_parse("HEAD") == builder.head()


def test_missing_git_binary(builder: GitBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(builder.path)

    def no_git(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", "git")

    monkeypatch.setattr(subprocess, "Popen", no_git)
    with pytest.raises(GitError, match=r"^cannot run git: No such file or directory$"):
        repo.run("status")
    with pytest.raises(GitError, match=r"^cannot run git: "):
        list(repo.iter_commits(None, "HEAD"))
    (builder.path / "sub").mkdir()
    with pytest.raises(GitError, match=r"^cannot run git: "):
        GitRepo(builder.path / "sub")  # only git can tell whether a subdirectory is in a repo
