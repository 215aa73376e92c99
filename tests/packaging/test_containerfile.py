"""The Containerfile, checked without a container engine (none runs here): it parses
with the official Dockerfile grammar (the ``dockerfile`` package wraps BuildKit's
parser), what it copies exists, it runs as a non-root user, and its command line is
a real ``shipyard`` command with the flags and environment variables a container
needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dockerfile

from conftest import SHIPYARD

ROOT = Path(__file__).parents[2]


def _commands() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Containerfile")))


def _one(cmd: str) -> dockerfile.Command:
    found = [c for c in _commands() if c.cmd == cmd]
    assert len(found) == 1, f"{cmd}: {found}"
    return found[0]


def test_it_starts_from_python_311_slim_and_installs_git_and_the_postgres_extra() -> None:
    assert _commands()[0].cmd == "FROM"
    assert _one("FROM").value == ("python:3.11-slim",)
    runs = " ".join(" ".join(c.value) for c in _commands() if c.cmd == "RUN")
    assert "apt-get install -y --no-install-recommends git" in runs
    assert 'pip install --no-cache-dir ".[postgres]"' in runs
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'postgres = ["psycopg[binary]' in pyproject


def test_what_it_copies_exists_and_is_not_ignored() -> None:
    sources = [src for c in _commands() if c.cmd == "COPY" for src in c.value[:-1]]
    assert sources == ["pyproject.toml", "README.md", "src"]
    for src in sources:
        assert (ROOT / src).exists(), src
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & set(sources)
    assert {".venv", ".git"} <= ignored  # a developer's environment never enters the image


def test_it_runs_as_a_non_root_user_it_creates() -> None:
    user = _one("USER").value[0]
    uid = user.split(":")[0]
    assert uid not in ("0", "root")
    runs = " ".join(" ".join(c.value) for c in _commands() if c.cmd == "RUN")
    assert f"useradd --system --uid {uid} " in runs
    # the manifests run it as the same user
    deployment = (ROOT / "deploy" / "kubernetes" / "base" / "deployment.yaml").read_text()
    assert f"runAsUser: {uid}" in deployment


def test_its_command_line_is_shipyard_serve_listening_on_all_addresses() -> None:
    entrypoint, cmd = _one("ENTRYPOINT"), _one("CMD")
    assert entrypoint.json and cmd.json  # exec form: signals reach shipyard, not a shell
    argv = [*entrypoint.value, *cmd.value]
    assert argv == ["shipyard", "serve"]
    env = dict(zip(_one("ENV").value[::2], _one("ENV").value[1::2], strict=True))
    assert env["SHIPYARD_HOST"] == "0.0.0.0"
    assert _one("EXPOSE").value == (env["SHIPYARD_PORT"],)
    # the same command line runs here, and takes the variables the image sets
    done = subprocess.run(
        [SHIPYARD, *argv[1:], "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    for name in ("SHIPYARD_HOST", "SHIPYARD_PORT", "SHIPYARD_FIRST_ADMIN"):
        assert name in done.stdout
