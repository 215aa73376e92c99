"""The GitOps runtime: an environment on Kubernetes, deployed by a commit to its overlay.

A deploy writes the image into the environment's overlay in a manifests
repository, commits, pushes, and then waits for the rollout: Argo CD (when
``[environments.X.argocd]`` is set) is asked to refresh and sync at once, and
followed until it reports our commit ``Synced``, ``Healthy`` and its operation
``Succeeded``; with ``url``, ``/__version__`` there must report the app's commit
and the health path answer 200. A ``Degraded`` application or a timeout fails the
deployment, and (``on_failure = "revert"``, the default) a revert commit restores
the overlay. A rollback is a deploy of the previous image; a restart bumps the
pod template's ``shipyard.dev/restartedAt`` annotation.

The package, from the bottom up::

    yamledit   set one scalar in a YAML file, every other byte kept (ruamel.yaml)
    overlay    what a deploy or restart writes, per format (kustomize, helm-values, yaml)
    repo       ManifestsRepo: the checkout in the state dir; push, fetch, rebase, retry
    argocd     ArgoCD: refresh, sync and read one application (Argo CD's REST API)
    wait       following Argo CD and /__version__ until the rollout is done or failed
    health     one quick look at Argo CD and the url, for views (never "stopped")
    runtime    GitOpsRuntime: deploy, restart, current, health

Wiring (one runtime per environment whose ``runtime = "gitops"``)::

    runtime = GitOpsRuntime(name, settings.environment(name), state_dir=settings.state_dir,
                            root=settings.root, health_path=settings.app.health)
    runtime.deploy(Release(tag=d.tag, digest=digest, ref=d.ref, commit=d.commit,
                           actor=ctx.actor, deployment=d.id, kind=d.kind),
                   on_progress=ctx.reporter.step)        # raises DeployFailed
    runtime.restart(actor=ctx.actor, commit=current_commit)
    runtime.current()   # Image(tag, digest) the overlay names, or None
    runtime.health(current_commit)   # Health("healthy" | "unhealthy" | "unknown", why)

Every failure comes out as ``DeployFailed`` with one line; the Argo CD token
(read from the environment variable its ``{ env = ... }`` names) is sent only in
the ``Authorization`` header.
"""

from shipyard.adapters.runtime.gitops.overlay import Image
from shipyard.adapters.runtime.gitops.runtime import GitOpsRuntime, Release, Rollout

__all__ = ["GitOpsRuntime", "Image", "Release", "Rollout"]
