"""The E2E gate's runs: an environment's ``e2e`` command against its upstream's URL.

``shipyard e2e ENV [REF]`` runs it on the commit the upstream runs (REF must be that
commit); the run is recorded with its log, like a build's check, and the deploy to
ENV needs the last run on its commit to have passed. The command sees only the
allow-listed environment (``core.environ``) and is stopped after ``e2e_timeout``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.builds import FAILED, PASSED, RUNNING
from shipyard.core.environ import clean_env
from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import E2ERun
from shipyard.store.queries import current_of


def runs(ctx: Context, environment: str, limit: int = 20) -> list[E2ERun]:
    ctx.settings.environment(environment)
    with ctx.store.read() as s:
        return list(
            s.execute(
                select(E2ERun)
                .where(E2ERun.app_id == ctx.app_id, E2ERun.environment == environment)
                .order_by(E2ERun.id.desc())
                .limit(limit)
            ).scalars()
        )


def get_run(ctx: Context, run_id: int) -> E2ERun:
    with ctx.store.read() as s:
        row = s.get(E2ERun, run_id)
    if row is None or row.app_id != ctx.app_id:
        raise NotFound(f"no E2E run #{run_id}")
    return row


def _target(ctx: Context, environment: str, ref: str | None) -> tuple[str, str, str]:
    """(upstream, its URL, the commit it runs); REF, when given, must be that commit."""
    from shipyard.services.deploy.planning import resolve_ref

    cfg = ctx.settings.environment(environment)
    if cfg.e2e is None or cfg.after is None:
        raise ShipyardError(f"{environment} has no e2e command (set e2e in shipyard.toml)")
    up = cfg.after
    url = ctx.settings.environment(up).link
    with ctx.store.read() as s:
        current = current_of(s, ctx.environment_row(s, up))
    if current is None:
        raise Refused(f"{up} runs nothing yet: the E2E run of {environment} tests what it runs")
    if ref is not None:
        commit, _ = resolve_ref(ctx, ref)
        if commit != current.commit:
            raise Refused(
                f"{up} runs {current.commit[:7]}, not {commit[:7]}: "
                f"deploy {commit[:7]} to {up} first, the E2E run tests what {up} runs"
            )
    return up, url, current.commit


def run(ctx: Context, environment: str, ref: str | None = None) -> E2ERun:
    """Run ``environment``'s E2E command against its upstream, record it, and return it."""
    up, url, commit = _target(ctx, environment, ref)
    cfg = ctx.settings.environment(environment)
    assert cfg.e2e is not None
    command = cfg.e2e.replace("{url}", url)
    started = datetime.now(UTC)

    def begin(s: Session) -> int:
        row = E2ERun(
            app_id=ctx.app_id,
            environment=environment,
            upstream=up,
            commit=commit,
            url=url,
            status=RUNNING,
            log="",
            requested_by=ctx.actor,
            started_at=started,
        )
        s.add(row)
        s.flush()
        return row.id

    run_id = ctx.store.retrying(begin)
    ctx.reporter.step(f"E2E #{run_id} of {commit[:7]} against {up} ({url}): {command}")
    code, output, took = execute(ctx, command, commit, url, cfg.e2e_timeout)
    return _finish(ctx, run_id, code, output, took)


def execute(
    ctx: Context, command: str, commit: str, url: str, timeout: float
) -> tuple[int | None, str, float]:
    """Run ``command`` in the repository's working tree: its exit code (None when it timed
    out or could not start), its output and how long it took."""
    env = clean_env(os.environ, ctx.settings.check_env)
    env.update(SHIPYARD_COMMIT=commit, SHIPYARD_URL_UNDER_TEST=url)
    began = time.monotonic()
    try:
        # A session of its own: on timeout the whole group goes (a browser a suite started
        # too), and nothing left behind holds the output pipe open.
        proc = subprocess.Popen(
            command,
            shell=True,
            cwd=ctx.settings.repo_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return None, f"[shipyard] could not start the command: {exc.strerror}\n", 0.0
    try:
        raw, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
        output = raw.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raw, _ = proc.communicate(timeout=30)
        code = None
        output = raw.decode("utf-8", "replace") + f"\n[shipyard] timed out after {timeout:g}s\n"
    return code, output, time.monotonic() - began


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(proc.pid, signal.SIGKILL)


def _finish(ctx: Context, run_id: int, code: int | None, output: str, took: float) -> E2ERun:
    limit = ctx.settings.build.log_limit
    output = ctx.scrubber.text(output)  # whatever the command printed, no secret is kept
    if len(output) > limit:
        output = "[shipyard] log truncated to its last part\n" + output[-limit:]
    status = PASSED if code == 0 else FAILED

    def write(s: Session) -> E2ERun:
        row = s.get(E2ERun, run_id)
        assert row is not None
        row.status, row.exit_code, row.log, row.duration = status, code, output, took
        row.finished_at = datetime.now(UTC)
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action=f"e2e.{status}",
            subject=f"{row.environment}#{row.id}",
            data={"commit": row.commit, "upstream": row.upstream, "exit_code": code},
        )
        return row

    row = ctx.store.retrying(write)
    detail = (
        f"{took:.1f}s" if status == PASSED else f"exit {code}" if code is not None else "failed"
    )
    ctx.reporter.check(row.commit[:7], f"e2e #{row.id}", status, detail)
    return row
