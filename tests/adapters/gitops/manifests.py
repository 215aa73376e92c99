"""A manifests repository for GitOps tests: a bare remote and a second writer's clone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IMAGE = "127.0.0.1:5000/acme/web"
DIGEST = "sha256:" + "ab" * 32

DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {IMAGE}:latest
"""

KUSTOMIZATION = f"""\
# prod: what runs in production. Shipyard writes the image tag below.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: web   # the team's namespace
resources:
  - ../../base
images:
  - name: {IMAGE}
    newTag: "0000000"  # written by Shipyard
"""

VALUES = """\
# Values for the web chart in prod.
replicaCount: 2

image:
  repository: 127.0.0.1:5000/acme/web   # CI pushes here
  tag: 'old-tag'     # the deployed tag
  pullPolicy: IfNotPresent

podAnnotations: {}
resources:
  limits: {cpu: 500m}   # keep it small
"""


def git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Other Writer",
        GIT_AUTHOR_EMAIL="other@example.com",
        GIT_COMMITTER_NAME="Other Writer",
        GIT_COMMITTER_EMAIL="other@example.com",
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_remote(tmp: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """A bare repository ``deploy.git`` holding ``files`` on main, and a clone of it."""
    remote = tmp / "deploy.git"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    work = tmp / "other-writer"
    git(tmp, "clone", "--quiet", str(remote), str(work))
    git(work, "checkout", "--quiet", "-b", "main")
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "Initial manifests")
    git(work, "push", "--quiet", "origin", "main")
    return remote, work


def kustomize_files() -> dict[str, str]:
    return {
        "base/deployment.yaml": DEPLOYMENT,
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "k8s/prod/kustomization.yaml": KUSTOMIZATION,
    }


def other_writer_push(work: Path, name: str, text: str, message: str) -> str:
    """The second writer pulls, writes ``name`` and pushes; the new remote head."""
    git(work, "pull", "--quiet", "--rebase", "origin", "main")
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_text(text)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", message)
    git(work, "push", "--quiet", "origin", "main")
    return git(work, "rev-parse", "HEAD")


def remote_file(remote: Path, name: str) -> str:
    return git(remote, "show", f"main:{name}") + "\n"
