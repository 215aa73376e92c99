"""An environment's secrets under the two-person rule, through the real CLI: the
reference process's pairing session, and each refusal leaving the state as it was."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from conftest import RELEASER, SHIPYARD, Project, Result, make_project, stop_all
from shipyard.adapters.runtime.local import LocalRuntime
from shipyard.core.sealing import generate_key_line

ANA, BOB, EVE = "ana@example.com", "bob@example.com", "eve@example.com"
FIRST, SECOND = "first-s3cret-Zq81", "second-s3cret-Wp27"


def feed(p: Project, stdin: str, *args: str, user: str = ANA) -> Result:
    proc = subprocess.run(
        [SHIPYARD, *args],
        cwd=p.path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SHIPYARD_USER": user, "COLUMNS": "200"},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def paired(tmp_path: Path) -> Iterator[Project]:
    key = tmp_path / "keys" / "secrets.key"
    key.parent.mkdir()
    key.write_text(generate_key_line() + "\n")
    p = make_project(tmp_path / "monitor", f'\n[secrets]\nkey = {{ file = "{key}" }}\n')
    toml = p.path / "shipyard.toml"
    staged = toml.read_text().replace("auto = true\n", "auto = true\nconfig_approvals = 1\n", 1)
    p.repo.commit("Stage config needs a second person", {"shipyard.toml": staged}, author=RELEASER)
    for name, role in ((ANA, "engineer"), (BOB, "releaser"), (EVE, "viewer")):
        p.ok("user", "add", name, "--role", role)
    try:
        yield p
    finally:
        stop_all(p)


def instance_env(p: Project, env: str) -> dict[str, str]:
    info = LocalRuntime(p.path / ".shipyard").current("monitor", env)
    assert info is not None
    raw = Path(f"/proc/{info.pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def snapshot(p: Project) -> str:
    return p.ok("config", "stage").out + p.ok("audit", "log", "--limit", "200").out


class Load:
    """Requests to stage's port, one after another, counting any that fail."""

    def __init__(self, port: int) -> None:
        self.port, self.ok, self.failed = port, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as r:
                    r.read()
                self.ok += 1
            except OSError:
                self.failed += 1


def test_the_pairing_session_end_to_end(paired: Project) -> None:
    p = paired
    p.ok("sync")
    assert "API_KEY" not in instance_env(p, "stage")

    # A first version of the secret, approved by the partner.
    r = feed(p, FIRST + "\n", "config", "set", "stage", "API_KEY", "--secret")
    assert r.code == 0 and "change request v1 waits" in r.out, r.text
    p.ok("config", "approve", "stage", "1", user=BOB)
    listed = p.ok("config", "stage").out
    assert "API_KEY" in listed and "********" in listed and FIRST not in listed
    assert "stale: instances run version 0" in listed

    # 1-2. The engineer asks for a grant; the partner approves it.
    assert p.ok("grant", "list", "stage").out.startswith("no grants for stage: 'shipyard grant")
    # Long enough for the read right after approval on a busy machine; step 7 waits it out.
    r = p.ok("grant", "request", "stage", "--for", "20s", "--reason", "rotate the API key")
    assert "grant #1 on stage waits" in r.out
    refused = p.run("grant", "approve", "1")
    assert refused.code == 1 and "role 'engineer' may not config approve" in refused.err
    p.ok("grant", "approve", "1", user=BOB)

    # 3. The engineer reads the latest version and makes a new one from it.
    assert p.ok("config", "get", "stage", "API_KEY").out == FIRST + "\n"
    r = feed(p, SECOND, "config", "set", "stage", "API_KEY", "--secret", "--cas", "1")
    assert r.code == 0 and "change request v2 waits" in r.out, r.text

    # 4. The partner reviews the diff (masked, marked changed) and approves it.
    d = p.ok("config", "diff", "stage", "2", user=BOB).out
    assert "~ API_KEY  ******** -> ********  (changed)" in d
    assert FIRST not in d and SECOND not in d
    p.ok("config", "approve", "stage", "2", user=BOB)

    # 5. Stage is stale: its instance started before version 2.
    assert "stale: instances run version 0" in p.ok("config", "stage").out
    status = p.ok("status").out
    assert "stage: instances stale (config v0, active v2): shipyard restart stage" in status
    assert "dev:" not in status  # dev stores nothing: nothing is stale there

    # 6. A restart brings it to the new version, with no failed request under load.
    load = Load(p.ports["stage"])
    load.thread.start()
    try:
        p.ok("restart", "stage")
    finally:
        load.stop.set()
        load.thread.join(timeout=30)
    assert load.ok > 0 and load.failed == 0
    assert instance_env(p, "stage")["API_KEY"] == SECOND
    assert "stale" not in p.ok("config", "stage").out
    assert "stale" not in p.ok("status").out

    # 7. The grant expires by itself, and a read is refused.
    deadline = time.monotonic() + 60
    while (r := p.run("config", "get", "stage", "API_KEY")).code == 0:
        assert time.monotonic() < deadline, "the grant never expired"
        time.sleep(0.5)
    assert r.code == 3 and "your grant #1 on stage has expired" in r.err
    assert r.out == "" and "Traceback" not in r.err

    audit = p.ok("audit", "log", "--limit", "200").out
    for action in ("config.requested", "config.approved", "grant.approved", "config.read"):
        assert action in audit
    assert FIRST not in audit and SECOND not in audit
    # Sealed at rest: the database file holds neither value.
    db = (p.path / ".shipyard" / "shipyard.db").read_bytes()
    assert FIRST.encode() not in db and SECOND.encode() not in db


def test_refusals_leave_everything_as_it_was(paired: Project) -> None:
    p = paired
    r = feed(p, FIRST, "config", "set", "stage", "API_KEY", "--secret")
    assert r.code == 0, r.text
    p.ok("config", "approve", "stage", "1", user=BOB)
    feed(p, SECOND, "config", "set", "stage", "API_KEY", "--secret", "--cas", "1", user=BOB)
    p.ok("grant", "request", "stage", "--for", "5m", "--reason", "look", user=BOB)
    before = snapshot(p)

    cases = [
        (p.run("config", "approve", "stage", "2", user=BOB), 3, "cannot approve your own change"),
        (p.run("grant", "approve", "1", user=BOB), 3, "cannot approve your own grant #1"),
        (p.run("config", "approve", "stage", "2", user=EVE), 1, "role 'viewer' may not config"),
        (
            feed(p, "x-value-123", "config", "set", "stage", "API_KEY", "--secret", "--cas", "0"),
            3,
            "check-and-set failed: stage's config is at version 1, not 0",
        ),
        (p.run("config", "get", "stage", "API_KEY"), 3, "needs an approved grant"),
        (p.run("config", "set", "stage", f"API_KEY={FIRST}", "--secret"), 1, "never taken"),
        (p.run("config", "set", "stage", "X=1", user="mallory@example.com"), 1, "not a user"),
    ]
    for result, code, message in cases:
        assert result.code == code and message in result.err, result.text
        assert "Traceback" not in result.err
    assert snapshot(p).count("\n") == before.count("\n")
    assert snapshot(p).split("audit")[0] == before.split("audit")[0]


def test_a_stale_change_request_is_refused_at_approval(paired: Project) -> None:
    p = paired
    p.ok("config", "set", "stage", "MODE=a")
    p.ok("config", "set", "stage", "MODE=b")
    p.ok("config", "approve", "stage", "1", user=BOB)
    r = p.run("config", "approve", "stage", "2", user=BOB)
    assert r.code == 3 and "made from version 0, but version 1 is active now" in r.err
    assert "MODE   b" not in p.ok("config", "stage").out


def test_a_missing_key_and_a_corrupted_ciphertext(paired: Project, tmp_path: Path) -> None:
    p = paired
    assert feed(p, FIRST, "config", "set", "stage", "API_KEY", "--secret").code == 0
    p.ok("config", "approve", "stage", "1", user=BOB)
    key = tmp_path / "keys" / "secrets.key"
    saved = key.read_text()

    key.unlink()
    r = feed(p, SECOND, "config", "set", "stage", "API_KEY", "--secret")
    assert r.code == 1 and f"secrets -> key: cannot read {key}" in r.err
    assert "change request v2" not in p.ok("config", "stage").out
    key.write_text(saved)

    engine = create_engine(f"sqlite:///{p.path / '.shipyard' / 'shipyard.db'}")
    with engine.begin() as c:
        sealed = c.execute(text("SELECT value FROM config_entries")).scalar_one()
        tampered = sealed[:-6] + ("AAAA==" if not sealed.endswith("AAAA==") else "BBBB==")
        c.execute(text("UPDATE config_entries SET value = :v"), {"v": tampered})
    engine.dispose()
    key_id = sealed.split(":")[1]
    r = p.run("sync")
    assert r.code != 0
    assert "secret API_KEY of config version 1 cannot be opened" in r.text
    assert f"key {key_id}" in r.text and "Traceback" not in r.text
    assert p.served("stage") is None  # nothing was started with half its variables
