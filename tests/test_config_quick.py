"""``config.quick.load_notes``: the sections ``shipyard notes`` reads, checked as ``load``
checks them, from the same file."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.config import load
from shipyard.config.quick import SECTION_NAMES, load_notes
from shipyard.config.settings import ALL_SECTIONS
from shipyard.errors import ConfigError

BASE = """\
[app]
name = "web"
run = "python3 app.py"
repo = "code"
ticket_prefixes = ["MNTOR", "KIP"]
ticket_sources = ["title", "body"]
ticket_body = "always"
exclude_authors = ["dependabot[bot]", "*-l10n*"]

[environments.stage]
port = 8100

[state]
dir = "var"

[notes]
groups = { "type: bug" = "Fixes" }

[[releases.groups]]
key = "ui"
title = "Interface"
match = "^(add|show)"
labels = ["ui"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shipyard.toml"
    path.write_text(text)
    return path


def test_every_section_the_file_may_have_is_known_to_both_loaders() -> None:
    assert set(ALL_SECTIONS) == SECTION_NAMES


def test_the_notes_settings_are_those_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHIPYARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("SHIPYARD_STATE_DIR", raising=False)
    (tmp_path / "sub").mkdir()
    write(tmp_path, BASE)
    quick = load_notes(cwd=tmp_path / "sub")  # found above, as load finds it
    full = load(cwd=tmp_path / "sub")
    assert quick is not None
    assert (quick.app, quick.releases, quick.notes, quick.state) == (
        full.app,
        full.releases,
        full.notes,
        full.state,
    )
    assert quick.repo_path == full.repo_path == (tmp_path / "code").resolve()
    assert quick.database_url == full.database_url
    assert quick.database_url == f"sqlite:///{(tmp_path / 'var' / 'shipyard.db').resolve()}"
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", "postgresql://db/x")
    assert load_notes(cwd=tmp_path).database_url == "postgresql://db/x"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("ticket_prefixes = [", 'ticket_prefixes = ["mntor", '), "app -> ticket_prefixes -> 0:"),
        (("exclude_authors = [", "exclude_authors = [1, "), "app -> exclude_authors -> 0:"),
        (("run = ", "runs = "), "app -> runs: is not a known setting"),
        (('match = "^(add|show)"', 'match = "(add"'), "releases -> groups -> 0 -> match:"),
        (('"type: bug" = "Fixes"', '"type: bug" = 3'), "notes -> groups -> type: bug:"),
        (('dir = "var"', "dir = 1"), "state -> dir: must be a string"),
        (("[state]", "[nope]"), "nope: is not a known section"),
        (("[app]", "[application]"), "application: is not a known section"),
        (('name = "web"', 'name = "Web"'), "app -> name: lower-case letters"),
    ],
)
def test_a_wrong_value_is_the_same_one_line_error_as_the_whole_files(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, BASE.replace(*change, 1))
    with pytest.raises(ConfigError) as full:
        load(path)
    with pytest.raises(ConfigError) as quick:
        load_notes(path)
    assert quick.value.message == full.value.message
    assert quick.value.message.startswith(f"shipyard.toml: {message}")
    assert "\n" not in quick.value.message


def test_a_forge_needs_the_whole_file_and_other_sections_are_not_read(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + '\n[forge]\nkind = "git"\n')
    assert load_notes(path) is None
    # A mistake in a section the notes never read is for the commands that read it.
    path = write(tmp_path, BASE + "\n[environments.prod]\nport = 8100\n")
    with pytest.raises(ConfigError, match="environments -> prod -> port"):
        load(path)
    quick = load_notes(path)
    assert quick is not None and quick.app.ticket_prefixes == ("MNTOR", "KIP")


def test_the_notes_command_imports_no_other_section(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    code = (
        "import sys; from shipyard.config.quick import load_notes; load_notes(); "
        "print(sorted(m for m in sys.modules if m.startswith('shipyard.config') "
        "or m == 'dataclasses'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out))
    assert "shipyard.config.quick" in loaded
    assert "dataclasses" not in loaded  # its sections are named tuples: no inspect either
    assert not loaded & {
        "shipyard.config.settings",
        "shipyard.config.sections",
        "shipyard.config.serving",
        "shipyard.config.gitops",
        "shipyard.config.artifacts",
    }
