"""The Kubernetes manifests, rendered by the real ``kubectl kustomize`` (Debian's
kubernetes-client, or the machine's kubectl) and read back: what a cluster would get."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SHIPYARD
from shipyard import __version__
from shipyard.config import parse
from shipyard.services.owners import POD_NAME_VARIABLE

ROOT = Path(__file__).parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
BASE, OVERLAY = KUSTOMIZE / "base", KUSTOMIZE / "overlays" / "postgres"
IMAGES = {
    BASE: f"registry.example.com/shipyard/shipyard:{__version__}",
    OVERLAY: f"registry.example.com/platform/shipyard:{__version__}",
}
SECRET_ENV = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL|_KEY$")
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@")


def render(where: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: scripts/services installs kubernetes-client"
    done = subprocess.run(
        [kubectl, "kustomize", str(where)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of this kind and name (a generated ConfigMap's name ends in a hash)."""
    named = re.compile(re.escape(name) + (r"-[a-z0-9]{10}" if kind == "ConfigMap" else ""))
    found = [d for d in docs if d["kind"] == kind and named.fullmatch(d["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(one(docs, "Deployment", "shipyard")["spec"]["template"]["spec"])


def container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == name
    )


def env(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (str(k), *strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [str(node)]


both = pytest.mark.parametrize("where", [BASE, OVERLAY], ids=["base", "postgres-overlay"])


@both
def test_two_replicas_of_shipyard_serve_behind_a_service(where: Path) -> None:
    docs = render(where)
    deployment = one(docs, "Deployment", "shipyard")
    assert deployment["spec"]["replicas"] == 2
    # a new pod is ready before an old one stops
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec = pod(docs)
    server = container(spec, "shipyard")
    assert server["args"][0] == "serve"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(docs, "Service", "shipyard")
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in ports
    assert one(docs, "PodDisruptionBudget", "shipyard")["spec"]["minAvailable"] == 1


@both
def test_probes_ask_healthz_on_the_port_the_server_listens_on(where: Path) -> None:
    server = container(pod(render(where)), "shipyard")
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    listens = int(env(server)["SHIPYARD_PORT"]["value"])
    assert env(server)["SHIPYARD_HOST"]["value"] == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        get = server[probe]["httpGet"]
        assert get["path"] == "/healthz", probe
        assert ports.get(get["port"], get["port"]) == listens, probe


@both
def test_the_database_url_and_tokens_come_from_a_secret(where: Path) -> None:
    docs = render(where)
    spec = pod(docs)
    for c in (container(spec, "migrate"), container(spec, "shipyard")):
        ref = env(c)["SHIPYARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "shipyard", "key": "database-url"}, c["name"]
    server = env(container(spec, "shipyard"))
    config = shipyard_toml(docs)
    # the names the config's secret references read are the ones the Secret fills
    for name in (config.webhooks.github_secret.env, config.webhooks.build_token.env):
        assert server[name]["valueFrom"]["secretKeyRef"]["name"] == "shipyard"


@both
def test_no_secret_is_written_anywhere(where: Path) -> None:
    docs = render(where)
    assert not [d for d in docs if d["kind"] == "Secret"]
    spec_containers = [
        c
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        for c in [
            *d["spec"]["template"]["spec"].get("initContainers", []),
            *d["spec"]["template"]["spec"]["containers"],
        ]
    ]
    assert len(spec_containers) >= 3
    for c in spec_containers:
        for name, e in env(c).items():
            if SECRET_ENV.search(name):
                assert "value" not in e and "secretKeyRef" in e["valueFrom"], (c["name"], name)
    assert not [s for s in strings(docs) if CREDENTIALS_IN_URL.search(s)]


@both
def test_migrations_run_once_before_the_server_starts(where: Path) -> None:
    spec = pod(render(where))
    first = spec["initContainers"][0]  # init containers run in order, all before the server
    assert first["name"] == "migrate"
    assert first["args"][:2] == ["db", "upgrade"]
    assert first["image"] == container(spec, "shipyard")["image"]
    # a real command: the image's entrypoint is `shipyard`
    done = subprocess.run(
        [SHIPYARD, *first["args"], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Upgrade the database schema" in done.stdout


@both
def test_every_container_runs_as_non_root_with_limits(where: Path) -> None:
    docs = render(where)
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = d["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], c["name"]
            assert c["resources"]["requests"]["memory"], c["name"]
            assert c["resources"]["limits"]["memory"], c["name"]


@both
def test_every_shipyard_container_runs_the_image_of_this_version(where: Path) -> None:
    spec = pod(render(where))
    images = {c["image"] for c in [*spec["initContainers"], *spec["containers"]]}
    assert images == {IMAGES[where]}


@both
def test_the_mounted_config_is_where_shipyard_reads_it_and_loads(where: Path) -> None:
    docs = render(where)
    spec = pod(docs)
    server = container(spec, "shipyard")
    path = Path(env(server)["SHIPYARD_CONFIG"]["value"])
    mount = next(m for m in server["volumeMounts"] if m["mountPath"] == str(path.parent))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert (
        volume["configMap"]["name"] == one(docs, "ConfigMap", "shipyard-config")["metadata"]["name"]
    )
    assert [i["path"] for i in volume["configMap"]["items"]] == [path.name]
    config = shipyard_toml(docs)
    # the repository the clone step writes is on the volume the server mounts
    work = next(m["mountPath"] for m in server["volumeMounts"] if m["name"] == "work")
    assert config.repo_path.is_relative_to(work)
    assert str(config.repo_path) in " ".join(container(spec, "clone")["args"])
    assert env(server)["SHIPYARD_STATE_DIR"]["value"].startswith(work)


@both
def test_all_replicas_sign_dashboard_sessions_with_the_key_from_the_secret(where: Path) -> None:
    spec = pod(render(where))
    server = container(spec, "shipyard")
    state = Path(env(server)["SHIPYARD_STATE_DIR"]["value"])
    mount = next(m for m in server["volumeMounts"] if m["name"] == "session-key")
    assert mount["mountPath"] == str(state / "session.key")  # where web/session.py reads it
    assert mount["readOnly"] is True
    secret = next(v for v in spec["volumes"] if v["name"] == "session-key")["secret"]
    assert secret["secretName"] == "shipyard"
    assert secret["items"] == [{"key": "session-key", "path": mount["subPath"]}]
    assert secret["defaultMode"] & 0o040  # the non-root user reads it through fsGroup
    assert not secret["defaultMode"] & 0o007
    assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsGroup"]


def test_the_overlay_brings_postgresql_in_its_namespace_and_its_own_config() -> None:
    docs = render(OVERLAY)
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "shipyard", d["metadata"]["name"]
    db = one(docs, "StatefulSet", "shipyard-postgres")
    postgres = db["spec"]["template"]["spec"]["containers"][0]
    assert env(postgres)["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "shipyard-postgres",
        "key": "password",
    }
    service = one(docs, "Service", "shipyard-postgres")
    assert service["spec"]["ports"][0]["port"] == 5432
    assert (
        service["spec"]["selector"].items() <= db["spec"]["template"]["metadata"]["labels"].items()
    )
    assert shipyard_toml(docs).schedule.prerelease == "0 9 * * 1-5"  # the overlay's file won
    assert len([d for d in docs if d["kind"] == "ConfigMap"]) == 1


def shipyard_toml(docs: list[dict[str, Any]]) -> Any:
    text = one(docs, "ConfigMap", "shipyard-config")["data"]["shipyard.toml"]
    return parse(tomllib.loads(text), root=Path("/etc/shipyard"))


def test_the_docs_name_every_secret_key_the_manifests_read() -> None:
    docs = render(OVERLAY)
    refs = {
        (s["secretName"], i["key"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        for v in d["spec"]["template"]["spec"].get("volumes", [])
        if (s := v.get("secret"))
        for i in s["items"]
    }
    refs |= {(ref["name"], ref["key"]) for ref in secret_key_refs(docs)}
    page = (ROOT / "docs" / "kubernetes.md").read_text()
    assert ("shipyard", "database-url") in refs and ("shipyard-postgres", "password") in refs
    for name, key in refs:
        assert f"--from-file={key}=" in page, (name, key)
    assert "(docs/kubernetes.md)" in (ROOT / "README.md").read_text()


def secret_key_refs(node: Any) -> list[dict[str, str]]:
    """Every secretKeyRef under ``node``."""
    if isinstance(node, dict):
        found = [node["secretKeyRef"]] if "secretKeyRef" in node else []
        return found + [r for v in node.values() for r in secret_key_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in secret_key_refs(v)]
    return []


@both
def test_each_pod_names_itself_in_the_owner_ids_of_its_deployments(where: Path) -> None:
    server = env(container(pod(render(where)), "shipyard"))
    assert server[POD_NAME_VARIABLE]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
