"""The overlay writer: one value changes, every other byte stays; kustomize renders it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from gitops.manifests import DIGEST, IMAGE, KUSTOMIZATION, VALUES, kustomize_files

from shipyard.adapters.runtime.gitops import overlay, yamledit
from shipyard.config.gitops import GitOpsConfig
from shipyard.errors import DeployFailed

KUSTOMIZE = GitOpsConfig(repo="deploy.git", path="k8s/prod", image=IMAGE)
HELM = GitOpsConfig(
    repo="deploy.git", path="values.yaml", image=IMAGE, format="helm-values", key="image.tag"
)
PLAIN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # the app
spec:
  template:
    metadata:
      annotations:
        team: web
    spec:
      containers:
        - name: web
          image: "127.0.0.1:5000/acme/web:old"   # Shipyard writes here
"""


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b), "a line was added or removed"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def _render(files: dict[str, str], tmp: Path) -> str:
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed (scripts/services installs it)"
    done = subprocess.run(
        [kubectl, "kustomize", str(tmp / "k8s/prod")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_helm_values_change_only_the_tag_keeping_its_quotes_and_comment() -> None:
    after = overlay.write_image(VALUES, HELM, "prod-2024.09.01", DIGEST)
    assert _changed_lines(VALUES, after) == [
        (
            "  tag: 'old-tag'     # the deployed tag\n",
            "  tag: 'prod-2024.09.01'     # the deployed tag\n",
        )
    ]
    assert overlay.read_image(after, HELM) == overlay.Image("prod-2024.09.01", None)


def test_plain_yaml_changes_the_value_at_a_dotted_key_with_a_list_index() -> None:
    cfg = GitOpsConfig(
        repo="r", path="deploy.yaml", image=IMAGE, format="yaml",
        key="spec.template.spec.containers.0.image",
    )  # fmt: skip
    after = overlay.write_image(PLAIN, cfg, f"{IMAGE}:abc1234", None)
    assert _changed_lines(PLAIN, after) == [
        (
            '          image: "127.0.0.1:5000/acme/web:old"   # Shipyard writes here\n',
            '          image: "127.0.0.1:5000/acme/web:abc1234"   # Shipyard writes here\n',
        )
    ]


def test_a_tag_yaml_would_read_as_a_number_is_quoted() -> None:
    after = yamledit.set_value("image:\n  tag: latest # x\n", ["image", "tag"], "1234567")
    assert after == 'image:\n  tag: "1234567" # x\n'
    assert (
        yamledit.set_value(after, ["image", "tag"], "abc1234") == 'image:\n  tag: "abc1234" # x\n'
    )


def test_a_restart_fills_an_empty_flow_mapping_and_keeps_the_rest() -> None:
    after = overlay.write_restart(VALUES, HELM, "2024-09-01T12:00:00Z")
    assert after == VALUES.replace(
        "podAnnotations: {}\n",
        'podAnnotations:\n  shipyard.dev/restartedAt: "2024-09-01T12:00:00Z"\n',
    )
    again = overlay.write_restart(after, HELM, "2024-09-02T08:00:00Z")
    assert _changed_lines(after, again) == [
        (
            '  shipyard.dev/restartedAt: "2024-09-01T12:00:00Z"\n',
            '  shipyard.dev/restartedAt: "2024-09-02T08:00:00Z"\n',
        )
    ]


def test_kustomize_writes_tag_and_digest_and_the_deployment_renders_them(tmp_path: Path) -> None:
    after = overlay.write_image(KUSTOMIZATION, KUSTOMIZE, "abc1234", DIGEST)
    assert _changed_lines(KUSTOMIZATION, after.replace(f"    digest: {DIGEST}\n", "")) == [
        (
            '    newTag: "0000000"  # written by Shipyard\n',
            '    newTag: "abc1234"  # written by Shipyard\n',
        )
    ]
    rendered = _render({**kustomize_files(), "k8s/prod/kustomization.yaml": after}, tmp_path)
    assert f"image: {IMAGE}:abc1234@{DIGEST}\n" in rendered
    assert overlay.read_image(after, KUSTOMIZE) == overlay.Image("abc1234", DIGEST)
    # Without a digest the old one goes, or it would pin the old image.
    no_digest = overlay.write_image(after, KUSTOMIZE, "def5678", None)
    assert no_digest == KUSTOMIZATION.replace('"0000000"', '"def5678"')


def test_a_kustomize_restart_changes_the_rendered_pod_template(tmp_path: Path) -> None:
    after = overlay.write_restart(KUSTOMIZATION, KUSTOMIZE, "2024-09-01T12:00:00Z")
    assert (
        after
        == KUSTOMIZATION
        + 'commonAnnotations:\n  shipyard.dev/restartedAt: "2024-09-01T12:00:00Z"\n'
    )
    rendered = _render({**kustomize_files(), "k8s/prod/kustomization.yaml": after}, tmp_path)
    template = rendered.split("  template:\n", 1)[1]
    assert 'shipyard.dev/restartedAt: "2024-09-01T12:00:00Z"' in template.split("spec:")[0]


def test_an_overlay_without_an_entry_for_the_image_gets_one(tmp_path: Path) -> None:
    text = KUSTOMIZATION.split("images:")[0]
    after = overlay.write_image(text, KUSTOMIZE, "abc1234", DIGEST)
    rendered = _render({**kustomize_files(), "k8s/prod/kustomization.yaml": after}, tmp_path)
    assert f"image: {IMAGE}:abc1234@{DIGEST}\n" in rendered
    assert after.startswith(text)


def test_a_broken_file_is_one_readable_error() -> None:
    with pytest.raises(DeployFailed) as err:
        overlay.write_image("image: [unclosed\n", HELM, "x", None, "k8s/prod/values.yaml")
    assert err.value.message.startswith("k8s/prod/values.yaml is not valid YAML: ")
    assert "\n" not in err.value.message
