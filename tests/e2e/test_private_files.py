"""What Shipyard keeps on disk is its owner's alone, whatever the umask it was started with."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the commands inherit it: everything they make would be 0666 / 0777
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_state_files_are_0600_and_folders_0700_under_any_umask(
    project: Project, open_umask: None
) -> None:
    p = project
    p.ok("sync")
    p.ok("status")
    state = p.path / ".shipyard"
    assert mode(state) == 0o700
    folders = [state / name for name in ("outbox", "runtime", "artifacts", "work")]
    for folder in folders:
        assert folder.is_dir() and mode(folder) == 0o700, (folder, oct(mode(folder)))
    databases = [f for f in state.iterdir() if f.name.startswith("shipyard.db")]
    files = [*databases, state / "notifications.log"]
    files += [f for f in (state / "runtime").rglob("*") if f.is_file()]
    files += [f for f in (state / "outbox").rglob("*") if f.is_file()]
    files += list((state / "artifacts" / "monitor" / "tags").iterdir())
    assert len(databases) >= 1 and any(f.suffix == ".json" for f in files)
    loose = {str(f.relative_to(state)): oct(mode(f)) for f in files if mode(f) != 0o600}
    assert not loose, loose
    runtime_dirs = [d for d in (state / "runtime").rglob("*") if d.is_dir()]
    assert runtime_dirs and all(mode(d) == 0o700 for d in runtime_dirs)
