"""``shipyard notes A..B`` starts git before it parses its config: in the repository the
file's lines most likely name (``cli.notes.start_early``). A right guess is the log the
notes read; a wrong one changes nothing but a process nobody reads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitfixtures import BOB, GitBuilder
from shipyard.adapters.git import ahead
from shipyard.cli.notes import _app_repo, print_notes, start_early


@pytest.mark.parametrize(
    ("text", "repo"),
    [
        ('[app]\nname = "x"\n', "."),
        ('[app]\nname = "x"\nrepo = "../web"\n', "../web"),
        ("[app]\nrepo = '../web'   # beside the config\n", "../web"),
        ('[app] # the app\n  repo="web"\n[environments.stage]\nrepo = "no"\n', "web"),
        ('[environments.stage]\nrepo = "no"\n[app]\nname = "x"\n', "."),
        ('[app.more]\nrepo = "no"\n', "."),
        ('[app]\nrepo = "a\\\\b"\n', None),  # an escape: for the parser to read
        ('[app]\nrepo = ["web"]\n', None),
        ('[app]\nrepo = "web" "more"\n', None),
        ('[app]\nrepo = "web\n', None),
    ],
)
def test_the_repository_a_config_names_read_from_its_lines(text: str, repo: str | None) -> None:
    assert _app_repo(text) == repo


@pytest.fixture
def project(tmp_path: Path) -> Path:
    b = GitBuilder.init(tmp_path / "web")
    b.commit("Initial commit")
    b.tag("2024.09.01")
    for n in range(1, 6):
        b.pr(n, f"MNTOR-{n}-work", f"Add work {n} MNTOR-{n}", author=BOB)
    config = tmp_path / "deploy" / "shipyard.toml"
    config.parent.mkdir()
    config.write_text(
        '[app]\nname = "web"\nrun = "true"\nrepo = "../web"\nticket_prefixes = ["MNTOR"]\n\n'
        "[environments.stage]\nport = 18001\n"
    )
    return config.parent


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    yield
    no_leftovers_now()


def no_leftovers_now() -> None:
    for started in ahead._started.values():  # a wrong guess's: as the command's exit would
        started.kill()
        started.wait()
        for stream in (started.stdout, started.stderr):
            if stream is not None:
                stream.close()
    ahead._started.clear()


def notes_of(capsys: pytest.CaptureFixture[str]) -> str:
    print_notes("2024.09.01..main", "markdown", ahead=True)
    return capsys.readouterr().out


def test_a_right_guess_is_the_log_the_notes_read(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    expected = notes_of(capsys)
    assert "5 changes" in expected and ahead._started == {}
    # From a directory below the config's, through a symbolic link: the same repository.
    (project.parent / "link").symlink_to(project)
    (project / "sub").mkdir()
    monkeypatch.chdir(project.parent / "link" / "sub")
    start_early("2024.09.01..main")
    started = list(ahead._started)
    assert len(started) == 2  # the log and the list of its merges
    assert all(argv[2] == os.path.realpath(project.parent / "web") for argv in started)
    assert notes_of(capsys) == expected
    assert ahead._started == {}  # both taken: no second log was started


def test_a_wrong_guess_changes_nothing_but_a_process_nobody_reads(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    expected = notes_of(capsys)
    # The same settings in dotted keys: the lines say nothing of [app] repo, so "." is tried.
    (project / "shipyard.toml").write_text(
        'app.name = "web"\napp.run = "true"\napp.repo = "../web"\napp.ticket_prefixes = ["MNTOR"]\n'
        "environments.stage.port = 18001\n"
    )
    start_early("2024.09.01..main")
    guessed = set(ahead._started)
    assert {argv[2] for argv in guessed} == {str(project)}
    assert notes_of(capsys) == expected
    assert set(ahead._started) == guessed  # the guess left unread; the right log was read
    no_leftovers_now()
    # Nothing to guess from: no file, no range, an option for a revision.
    monkeypatch.setenv("SHIPYARD_CONFIG", str(project / "missing.toml"))
    for rng in ("2024.09.01..main", "main", "a...b", "--all..main"):
        start_early(rng)
    assert ahead._started == {}
