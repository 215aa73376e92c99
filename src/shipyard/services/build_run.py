"""Running one build: its checks, then its artifact.

Checks run in a copy of the commit's files (never the user's working tree): a build
slot's folder brought to the commit, in which only what differs is written
(``services.checks_folder``), each with an allow-listed environment. The artifact is
the commit's files plus ``version.json``, read from git objects
(``services.build_source``), of which the local store reads only the blobs it does not
hold yet. A build is green when its checks passed and its artifact exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from shipyard.adapters.git.checkout import refresh
from shipyard.adapters.git.tree import write_listed
from shipyard.core.builds import (
    FAILED,
    PASSED,
    PENDING,
    RUNNING,
    SKIPPED,
    WAITING_IMAGE,
    settle,
    verdict,
)
from shipyard.core.environ import clean_env
from shipyard.errors import ShipyardError
from shipyard.private import private_dir
from shipyard.services.build_source import CommitSource
from shipyard.services.checks_folder import slot
from shipyard.services.context import Context
from shipyard.services.images import image_of
from shipyard.store import audit
from shipyard.store.models import Build, Check
from shipyard.store.queries import check_states


def _run_check(ctx: Context, build: Build, name: str, command: str, workdir: Path) -> Check:
    cfg = ctx.settings.build
    ctx.reporter.check(build.short_sha, name, RUNNING)
    with ctx.store.write() as s:
        check = Check(build_id=build.id, name=name, status=RUNNING, log="")
        s.add(check)
    # An allow-list: the server's own settings and secrets never reach a check.
    env = clean_env(os.environ, ctx.settings.check_env)
    env.update(SHIPYARD_COMMIT=build.sha, SHIPYARD_CHECK=name)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command,
            shell=True,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=cfg.check_timeout,
            check=False,
        )
        code: int | None = proc.returncode
        output = proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        code = None
        raw = exc.stdout if isinstance(exc.stdout, bytes) else b""
        output = (
            raw.decode("utf-8", "replace")
            + f"\n[shipyard] timed out after {cfg.check_timeout:g}s\n"
        )
    duration = time.monotonic() - started
    output = ctx.scrubber.text(output)  # whatever a check printed, no secret is kept
    if len(output) > cfg.log_limit:
        output = "[shipyard] log truncated to its last part\n" + output[-cfg.log_limit :]
    status = PASSED if code == 0 else FAILED
    with ctx.store.write() as s:
        row = s.get(Check, check.id)
        assert row is not None
        row.status, row.exit_code, row.log, row.duration = status, code, output, duration
    detail = (
        f"{duration:.1f}s"
        if status == PASSED
        else f"exit {code}"
        if code is not None
        else "timed out"
    )
    ctx.reporter.check(build.short_sha, name, status, detail)
    row.status = status
    return row


def version_document(ctx: Context, build: Build) -> dict[str, str]:
    return {
        "commit": build.sha,
        "version": build.short_sha,
        "source": ctx.settings.app.source or str(ctx.settings.repo_path),
        "build": str(build.id),
    }


def version_file(ctx: Context, build: Build) -> bytes:
    """``version.json`` of the build's artifact (a rebuild writes the very same bytes)."""
    return (json.dumps(version_document(ctx, build), indent=2) + "\n").encode()


def run_build(ctx: Context, build: Build) -> bool:
    """Run every check of ``build``; when all pass, store and tag its artifact."""
    with ctx.store.write() as s:
        row = s.get(Build, build.id)
        assert row is not None
        if row.status != PENDING:
            return row.status == PASSED
        required = ctx.settings.webhooks.required_checks
        # An external CI decides: the build waits until its checks are in.
        if required and (
            verdict(check_states(s, row.id), required) != PASSED
            or ctx.git.rev_parse(row.sha) is None
        ):
            return False
        row.status = RUNNING
    work = Path(tempfile.mkdtemp(prefix=f"build-{build.short_sha}-", dir=_work_dir(ctx)))
    try:
        ok, digest = _check_and_publish(ctx, build, work)
    except ShipyardError as exc:
        ok = False
        digest = None
        ctx.reporter.warn(f"build {build.short_sha} failed: {exc.message}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # Green needs the artifact too: checks that passed before CI pushed the image wait
    # for it (services.images looks again on every sync, poll and webhook).
    status = settle(PASSED if ok else FAILED, digest)

    def finish(session: Session) -> None:
        row = session.get(Build, build.id)
        assert row is not None
        row.status = status
        row.artifact_digest = digest
        row.finished_at = datetime.now(UTC)
        data = {"commit": build.sha, "artifact": digest}
        if status == WAITING_IMAGE:
            data["image"] = image_of(ctx, build.sha)
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action=f"build.{row.status}",
            subject=build.short_sha,
            data=data,
        )

    ctx.store.retrying(finish)
    build.status = status
    build.artifact_digest = digest
    return status == PASSED


def _check_and_publish(ctx: Context, build: Build, work: Path) -> tuple[bool, str | None]:
    """Run the checks; when they pass, store the artifact: ``(passed, digest)``."""
    # Listed once: the checks' copy and the artifact are the same files.
    source = CommitSource(
        ctx.git, build.sha, {"version.json": version_file(ctx, build)}, work / "artifact"
    )
    if ctx.settings.checks:
        with _checks_copy(ctx, build, source, work) as checks_dir:
            if not _run_checks(ctx, build, checks_dir):
                return False, None
    # A local store keeps the files; a registry reports CI's image, or None until it is
    # pushed (a deploy then waits for it).
    return True, ctx.artifacts.publish(ctx.app_name, build.sha, source)


@contextmanager
def _checks_copy(ctx: Context, build: Build, source: CommitSource, work: Path) -> Iterator[Path]:
    """The folder the checks run in: a free build slot's, brought to the commit (only
    what differs is written), else a fresh copy under ``work``."""
    with slot(ctx) as kept:
        if kept is not None:
            try:
                refresh(ctx.git, build.sha, source.files(), kept)
            except OSError:  # the slot's folder cannot even be emptied
                kept = None
        if kept is None:
            kept = work / "checks"
            write_listed(ctx.git, build.sha, source.files(), kept)
        yield kept


def _run_checks(ctx: Context, build: Build, checks_dir: Path) -> bool:
    """Each check in turn; once one fails the rest are recorded as skipped."""
    ok = True
    for name, command in ctx.settings.checks.items():
        if not ok:
            with ctx.store.write() as s:
                s.add(Check(build_id=build.id, name=name, status=SKIPPED, log=""))
            ctx.reporter.check(build.short_sha, name, SKIPPED)
            continue
        ok = _run_check(ctx, build, name, command, checks_dir).status == PASSED
    return ok


def _work_dir(ctx: Context) -> Path:
    d = ctx.settings.state_dir / "work"
    return private_dir(d)
