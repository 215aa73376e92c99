"""From a CI report to the stage overlay commit, against one bare ``git push``.

    .venv/bin/python bench/ci_to_overlay.py

Starts a real docker-registry, an Argo CD double and ``shipyard serve`` on loopback
(the set-up of tests/e2e/test_production_path.py), pushes the merged commit's image
with skopeo, then times POST /webhooks/build until the stage overlay on the manifests
remote names the new tag. The anchor, measured in the same run against the same bare
remote: one ``git push`` of a one-line change from a fresh clone. Prints both and the
ratio. Bounded: one report, 90 s at most.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from summary import record  # noqa: E402
from test_production_path import (  # noqa: E402
    BO,
    REPOSITORY,
    TOKEN,
    ci_reports,
    setup,
    wait_for_overlay,
)

from adapters.argocd.double import ArgoDouble  # noqa: E402
from adapters.gitops.app import version_app  # noqa: E402
from adapters.gitops.manifests import git  # noqa: E402
from adapters.oci_registry import Registry, build_image  # noqa: E402
from conftest import running_server  # noqa: E402


def bare_push(remote: Path, tmp: Path) -> float:
    """Seconds one ``git push`` of a one-line change to ``remote`` takes."""
    work = tmp / "anchor"
    git(tmp, "clone", "--quiet", str(remote), str(work))
    (work / "NOTE").write_text("one line\n")
    git(work, "add", "NOTE")
    git(work, "commit", "--quiet", "-m", "One line")
    start = time.monotonic()
    git(work, "push", "--quiet", "origin", "HEAD:main")
    return time.monotonic() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with (
            Registry(tmp) as reg,
            ArgoDouble("monitor-stage") as argo,
            version_app("0" * 40) as prod_app,  # prod's URL; this run never deploys prod
        ):
            env = {"SHIPYARD_BUILD_TOKEN": TOKEN, "ARGOCD_TOKEN": argo.token}
            p, remote = setup(tmp, reg, argo, prod_app)
            p.ok("sync", env=env)
            p.repo.squash_pr(11, "Add breach alerts", p.features("alerts"), author=BO)
            head = p.head()
            reg.push(build_image(tmp / "layout", "bench").layout, REPOSITORY, head[:7])
            with running_server(p.path, env=env) as srv:
                start = time.monotonic()
                ci_reports(srv.url, head)
                wait_for_overlay(remote, "stage", f'newTag: "{head[:7]}"')
                shipyard = time.monotonic() - start
            anchor = bare_push(remote, tmp)
    print(f"CI report -> stage overlay commit: {shipyard * 1000:.0f} ms")
    print(f"anchor, one bare git push:         {anchor * 1000:.0f} ms")
    print(f"ratio: {shipyard / anchor:.1f}x the anchor")
    record("ci_to_overlay", "one bare git push (anchor)", anchor * 1000, "ms")
    record(
        "ci_to_overlay", "CI report -> stage overlay commit", shipyard * 1000, "ms",
        anchor="one bare git push", anchor_value=anchor * 1000, ratio=shipyard / anchor,
    )  # fmt: skip


if __name__ == "__main__":
    main()
