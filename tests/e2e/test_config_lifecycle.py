"""An environment's variables over their life, through the real CLI: references the
runtime resolves, ``restart_on_change``, a rejected change, rotating the key (and a
rotation that fails half-way), and a server that will not start without its key."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from test_config_pairing import ANA, BOB, FIRST, SECOND, feed, instance_env

from conftest import RELEASER, SHIPYARD, Project, make_project, stop_all
from shipyard.core.sealing import Keyring, generate_key_line

ROOT = "root@example.com"


def _project(tmp_path: Path, stage_extra: str = "") -> Project:
    key = tmp_path / "keys" / "secrets.key"
    key.parent.mkdir()
    key.write_text(generate_key_line() + "\n")
    p = make_project(tmp_path / "monitor", f'\n[secrets]\nkey = {{ file = "{key}" }}\n')
    toml = p.path / "shipyard.toml"
    staged = toml.read_text().replace(
        "auto = true\n", f"auto = true\nconfig_approvals = 1\n{stage_extra}", 1
    )
    p.repo.commit("Stage config needs a second person", {"shipyard.toml": staged}, author=RELEASER)
    for name, role in ((ANA, "engineer"), (BOB, "releaser"), (ROOT, "admin")):
        p.ok("user", "add", name, "--role", role)
    return p


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[Project]:
    p = _project(tmp_path)
    try:
        yield p
    finally:
        stop_all(p)


@pytest.fixture
def restarting(tmp_path: Path) -> Iterator[Project]:
    p = _project(tmp_path, "restart_on_change = true\n")
    try:
        yield p
    finally:
        stop_all(p)


def _sealed(p: Project) -> list[tuple[int, str, str]]:
    """(version, name, stored value) of every secret, as the database has it."""
    engine = create_engine(f"sqlite:///{p.path / '.shipyard' / 'shipyard.db'}")
    try:
        with engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT v.version, e.name, e.value FROM config_entries e "
                    "JOIN config_versions v ON v.id = e.version_id "
                    "WHERE e.kind = 'secret' ORDER BY v.version, e.name"
                )
            ).all()
    finally:
        engine.dispose()
    return [(int(v), str(n), str(s)) for v, n, s in rows]


def _two_versions(p: Project) -> None:
    """API_KEY = FIRST (v1), then SECOND (v2), both approved."""
    assert feed(p, FIRST, "config", "set", "stage", "API_KEY", "--secret").code == 0
    p.ok("config", "approve", "stage", "1", user=BOB)
    assert feed(p, SECOND, "config", "set", "stage", "API_KEY", "--secret").code == 0
    p.ok("config", "approve", "stage", "2", user=BOB)


def _read(p: Project, name: str) -> str:
    """The value of stage's ``name`` as ANA reads it under a fresh grant."""
    got = p.ok("grant", "request", "stage", "--for", "5m", "--reason", "check the rotation")
    grant = got.out.split("#", 1)[1].split()[0]
    p.ok("grant", "approve", grant, user=BOB)
    return p.ok("config", "get", "stage", name).out.removesuffix("\n")


def test_references_are_resolved_when_an_instance_starts(
    restarting: Project, tmp_path: Path
) -> None:
    p = restarting
    p.ok("sync")
    held = tmp_path / "held-outside.txt"
    held.write_text("from-a-file-42\n")
    r = p.ok("config", "set", "stage", "FROM_ENV=env:OUTSIDE", f"FROM_FILE=file:{held}", "--ref")
    assert "change request v1 waits" in r.out
    p.ok("config", "set", "stage", "MODE=calm", "--cas", "0", user=BOB)  # v2, from v0 too
    listed = p.ok("config", "stage").out
    assert "config version 0" in listed and "FROM_ENV" not in listed  # nothing active yet
    assert "FROM_ENV" not in instance_env(p, "stage")

    # Approval activates v1 and, with restart_on_change, restarts stage onto it at once:
    # the references are resolved then, in the environment of the process that starts it.
    r = p.ok("config", "approve", "stage", "1", user=BOB, env={"OUTSIDE": "from-the-env-7"})
    assert "config version 1 is active" in r.out
    env = instance_env(p, "stage")
    assert env["FROM_ENV"] == "from-the-env-7" and env["FROM_FILE"] == "from-a-file-42"
    listed = p.ok("config", "stage").out
    assert "env:OUTSIDE" in listed and f"file:{held}" in listed and "stale" not in listed
    assert "stale" not in p.ok("status").out

    # A reference that cannot be resolved refuses the restart; the old instance serves on.
    served = p.served("stage")
    r = p.run("restart", "stage")
    assert r.code != 0 and "FROM_ENV refers to environment variable OUTSIDE" in r.err, r.text
    assert "Traceback" not in r.err and p.served("stage") == served
    assert instance_env(p, "stage")["FROM_ENV"] == "from-the-env-7"


def test_a_rejected_change_is_audited_and_never_active(keyed: Project) -> None:
    p = keyed
    assert feed(p, FIRST, "config", "set", "stage", "API_KEY", "--secret").code == 0
    refused = p.run("config", "reject", "stage", "1", "--reason", " ", user=BOB)
    assert refused.code == 1 and "say why" in refused.err
    r = p.ok("config", "reject", "stage", "1", "--reason", "wrong key", user=BOB)
    assert "config version 1 rejected" in r.out
    shown = p.ok("config", "stage").out  # nothing active: said, not an empty table
    assert "no variables or secrets set: shipyard config set stage NAME=VALUE" in shown
    assert "┃" not in shown
    listed = p.ok("config", "stage").out
    assert "config version 0" in listed and "API_KEY" not in listed and "waits" not in listed
    late = p.run("config", "approve", "stage", "1", user=BOB)
    assert late.code == 3 and "config version 1 of stage is rejected, not pending" in late.err
    again = p.run("config", "reject", "stage", "1", "--reason", "twice", user=BOB)
    assert again.code == 3 and "is rejected, not pending" in again.err
    audit = p.ok("audit", "log", "--limit", "50").out
    assert "config.rejected" in audit and "wrong key" in audit
    assert "config.approved" not in audit and FIRST not in audit


def test_rotating_the_key_seals_everything_again(keyed: Project, tmp_path: Path) -> None:
    p = keyed
    _two_versions(p)
    key = tmp_path / "keys" / "secrets.key"
    old = Keyring.parse(key.read_text())
    before = _sealed(p)
    assert {Keyring.key_id_in(s) for _, _, s in before} == {old.current}

    refused = p.run("secrets", "rotate-key", user=ANA)
    assert (
        refused.code == 1
        and "may not admin" in refused.err
        and key.read_text() == "\n".join(old.lines()) + "\n"
    )

    r = p.ok("secrets", "rotate-key", user=ROOT)
    new = Keyring.parse(key.read_text())
    assert new.current != old.current and list(new.keys) == [new.current]  # old key gone
    assert f"sealed with key {new.current}: 2 values; retired keys: {old.current}" in r.out
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    after = _sealed(p)
    assert [(v, n) for v, n, _ in after] == [(v, n) for v, n, _ in before]
    assert {Keyring.key_id_in(s) for _, _, s in after} == {new.current}
    # Every value is unchanged, and opens with the new key alone.
    assert _read(p, "API_KEY") == SECOND
    assert "secrets.key_rotated" in p.ok("audit", "log", "--limit", "50").out


def test_a_rotation_that_fails_half_way_leaves_everything_readable(
    keyed: Project, tmp_path: Path
) -> None:
    p = keyed
    _two_versions(p)
    key = tmp_path / "keys" / "secrets.key"
    old = Keyring.parse(key.read_text())
    # Version 1 (superseded) was damaged: rotation opens it after sealing others again.
    engine = create_engine(f"sqlite:///{p.path / '.shipyard' / 'shipyard.db'}")
    with engine.begin() as c:
        c.execute(
            text(
                "UPDATE config_entries SET value = substr(value, 1, length(value) - 8) "
                "|| 'AAAAAAA=' WHERE version_id = (SELECT id FROM config_versions "
                "WHERE version = 1)"
            )
        )
    engine.dispose()
    before = _sealed(p)

    r = p.run("secrets", "rotate-key", user=ROOT)
    assert r.code != 0 and "Traceback" not in r.err
    assert "secret API_KEY of config version 1 cannot be opened" in r.err
    assert len(r.err.strip().splitlines()) == 1
    # The database is as it was, and the key file still holds the key that sealed it.
    assert _sealed(p) == before
    ring = Keyring.parse(key.read_text())
    assert old.current in ring.keys
    assert _read(p, "API_KEY") == SECOND
    assert "secrets.key_rotated" not in p.ok("audit", "log", "--limit", "50").out


def test_serve_refuses_to_start_without_the_key(keyed: Project, tmp_path: Path) -> None:
    p = keyed
    assert feed(p, FIRST, "config", "set", "stage", "API_KEY", "--secret").code == 0
    p.ok("config", "approve", "stage", "1", user=BOB)
    key = tmp_path / "keys" / "secrets.key"
    saved = key.read_text()
    key.unlink()
    for broken in (None, "not a key\n"):
        if broken is not None:
            key.write_text(broken)
        proc = subprocess.run(
            [SHIPYARD, "serve", "--port", "1", "--no-schedule", "--no-first-admin"],
            cwd=p.path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "shipyard.toml: secrets -> key" in proc.stderr and "serving" not in proc.stdout
        assert saved.strip() not in proc.stderr + proc.stdout
    # Without [secrets] at all, the server says what is missing.
    toml = p.path / "shipyard.toml"
    toml.write_text(toml.read_text().split("\n[secrets]\n")[0] + "\n")
    proc = subprocess.run(
        [SHIPYARD, "serve", "--port", "1", "--no-schedule", "--no-first-admin"],
        cwd=p.path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "1 secret(s) are stored but [secrets] key is not set" in proc.stderr


def test_a_gitops_environment_refuses_stored_variables(keyed: Project) -> None:
    p = keyed
    toml = p.path / "shipyard.toml"
    text = toml.read_text().replace(
        f"[environments.prod]\nport = {p.ports['prod']}\n",
        '[environments.prod]\nruntime = "gitops"\nurl = "http://127.0.0.1:9/"\n',
    )
    gitops = (
        '\n[environments.prod.gitops]\nrepo = "/nowhere"\npath = "k8s/prod"\n'
        'image = "127.0.0.1:5000/acme/web"\n'
    )
    p.repo.commit("Run prod through GitOps", {"shipyard.toml": text + gitops}, author=RELEASER)
    before = p.ok("config", "prod").out
    for args, stdin in ((("MODE=a",), ""), (("API_KEY", "--secret"), FIRST)):
        r = feed(p, stdin, "config", "set", "prod", *args)
        assert r.code == 1 and "Traceback" not in r.err, r.text
        assert "prod runs on gitops: its pods never get Shipyard's stored variables" in r.err
        assert len(r.err.strip().splitlines()) == 1
    assert p.ok("config", "prod").out == before
    assert "config.requested" not in p.ok("audit", "log", "--limit", "50").out
