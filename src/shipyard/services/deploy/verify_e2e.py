"""The ``e2e`` verification check: the environment's own ``e2e`` command against its own
URL, run once in the verification window after the switch.

Unlike the E2E gate (``services.e2e``: the command against the upstream, before the
deploy, recorded as a run), this tests the new version where it now runs; its reading
(passed, the exit code, or timed out, with the output's last line) goes into the
deployment's verdict. No URL to test at is inconclusive.

    once = E2EOnce(ctx, "prod", commit)
    once.read(check, "http://127.0.0.1:8001")  # runs the command the first time only
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.config.verification import E2ECheck
from shipyard.core.verdicts import FAIL, INCONCLUSIVE, PASS, Reading
from shipyard.services.context import Context

MAX_DETAIL = 200


@dataclass
class E2EOnce:
    """The e2e check of one window: run at its first round, the same reading after."""

    ctx: Context
    environment: str
    commit: str
    reading: Reading | None = None

    def read(self, check: E2ECheck, url: str | None) -> Reading:
        if self.reading is None:
            self.reading = self._run(check, url)
        return self.reading

    def _run(self, check: E2ECheck, url: str | None) -> Reading:
        from shipyard.services.e2e import execute

        cfg = self.ctx.settings.environment(self.environment)
        if cfg.e2e is None:
            return Reading(check.name, INCONCLUSIVE, f"{self.environment} has no e2e command")
        if url is None:
            return Reading(check.name, INCONCLUSIVE, "no URL to run the e2e command against")
        command = cfg.e2e.replace("{url}", url)
        self.ctx.reporter.step(f"{self.environment}: e2e against {url}: {command}")
        code, output, took = execute(self.ctx, command, self.commit, url, cfg.e2e_timeout)
        if code == 0:
            return Reading(check.name, PASS, f"passed in {took:.1f}s")
        said = _last_line(self.ctx.scrubber.text(output))
        why = f"exit {code}" if code is not None else "timed out or did not start"
        return Reading(check.name, FAIL, f"{why} after {took:.1f}s" + (f": {said}" if said else ""))


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:MAX_DETAIL] if lines else ""
