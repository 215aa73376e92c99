"""The OCI artifact store against a real registry: Debian's docker-registry (distribution
2.8.2) on loopback, images pushed by skopeo from OCI layouts built in the test."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oci_registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Registry,
    build_image,
    build_index,
    need_tools,
    write_htpasswd,
)

from shipyard.adapters.artifacts import ArtifactError
from shipyard.adapters.artifacts.oci import OciArtifactStore, Retag, TagConflict
from shipyard.adapters.artifacts.registry_auth import RegistryError
from shipyard.adapters.artifacts.registry_client import ACCEPT, RegistryClient
from shipyard.errors import NotFound, ShipyardError

APP = "web"  # the store ignores the app argument: one store is one app's repository
_REPOS = itertools.count()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    need_tools()
    with Registry(tmp_path_factory.mktemp("oci")) as reg:
        yield reg


@pytest.fixture
def store(registry: Registry) -> Iterator[OciArtifactStore]:
    # A repository per test, so tests share the registry but not their tags.
    repo = f"acme/t{next(_REPOS)}"
    s = OciArtifactStore(RegistryClient(registry.host, insecure=True), repo)
    try:
        yield s
    finally:
        s.close()


def pushed(
    registry: Registry, tmp: Path, repo: str, tag: str, content: str, *, multi: bool = False
) -> Image:
    build = build_index if multi else build_image
    image = build(tmp / f"layout-{content}", content)
    registry.push(image.layout, repo, tag)
    return image


def raw_manifest(registry: Registry, repo: str, ref: str) -> httpx.Response:
    return httpx.get(
        f"http://{registry.host}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}
    )


@pytest.mark.parametrize("multi", [False, True], ids=["manifest", "index"])
def test_retag_puts_the_exact_manifest_under_the_new_tag_and_copies_no_blob(
    registry: Registry, store: OciArtifactStore, tmp_path: Path, multi: bool
) -> None:
    image = pushed(registry, tmp_path, store.repository, "abc1234", "one", multi=multi)
    blobs_before = registry.blob_count()
    source = raw_manifest(registry, store.repository, "abc1234")

    done = store.retag("abc1234", "prod-2024.09.01")

    assert done == Retag(image.digest, changed=True)
    copy = raw_manifest(registry, store.repository, "prod-2024.09.01")
    assert copy.content == source.content
    assert copy.headers["Content-Type"] == (OCI_INDEX if multi else OCI_MANIFEST)
    assert copy.headers["Docker-Content-Digest"] == image.digest
    assert store.resolve(APP, "prod-2024.09.01") == image.digest
    assert registry.blob_count() == blobs_before


def test_retag_by_digest_and_again_is_nothing_to_do(
    registry: Registry, store: OciArtifactStore, tmp_path: Path
) -> None:
    image = pushed(registry, tmp_path, store.repository, "abc1234", "two")

    assert store.tag(APP, "2024.09.01", image.digest) is True
    assert store.tag(APP, "2024.09.01", image.digest) is False
    assert store.retag("abc1234", "2024.09.01") == Retag(image.digest, changed=False)
    assert store.tags(APP) == {"2024.09.01": image.digest, "abc1234": image.digest}


def test_an_environment_tag_on_another_image_is_refused_and_left_alone(
    registry: Registry, store: OciArtifactStore, tmp_path: Path
) -> None:
    first = pushed(registry, tmp_path, store.repository, "abc1234", "three-a")
    second = pushed(registry, tmp_path, store.repository, "def5678", "three-b")
    store.retag("abc1234", "prod-2024.09.01")

    with pytest.raises(TagConflict) as caught:
        store.retag("def5678", "prod-2024.09.01")

    assert isinstance(caught.value, ShipyardError)
    assert caught.value.status == 409
    assert "prod-2024.09.01 already names another image" in caught.value.message
    assert caught.value.details["wanted"] == second.digest
    assert store.resolve(APP, "prod-2024.09.01") == first.digest


def test_a_missing_source_is_not_found_and_a_missing_image_is_the_callers_wait(
    registry: Registry, store: OciArtifactStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFound) as caught:
        store.retag("0000000", "prod-2024.09.01")
    assert caught.value.status == 404
    assert store.resolve(APP, "0000000") is None
    assert store.resolve(APP, "prod-2024.09.01") is None  # nothing was written

    image = build_image(tmp_path / "later", "four")
    assert store.exists(APP, image.digest) is False  # CI has not pushed it yet
    registry.push(image.layout, store.repository, "abc1234")
    assert store.exists(APP, image.digest) is True
    assert store.resolve(APP, store.build_tag_for("abc1234" + "f" * 33)) == image.digest


def test_bad_tags_and_digests_are_refused_before_any_request(store: OciArtifactStore) -> None:
    for bad in ("", "-x", "a" * 129, "has space", "a:b"):
        with pytest.raises(ArtifactError):
            store.retag("abc1234", bad)
    with pytest.raises(ArtifactError):
        store.exists(APP, "sha256:nothex")
    assert store.client.stats.requests == 0


def test_untag_deletes_only_a_manifest_no_other_tag_names(
    registry: Registry, store: OciArtifactStore, tmp_path: Path
) -> None:
    shared = pushed(registry, tmp_path, store.repository, "abc1234", "five-a")
    store.retag("abc1234", "prod-2024.09.01")
    pushed(registry, tmp_path, store.repository, "lonely", "five-b")

    # Deleting by digest would take the build's own tag with it: the tag stays.
    assert store.remove_tag("prod-2024.09.01") is False
    assert store.resolve(APP, "prod-2024.09.01") == shared.digest
    store.untag(APP, "lonely")
    assert store.resolve(APP, "lonely") is None
    assert store.resolve(APP, "abc1234") == shared.digest
    assert store.remove_tag("never-there") is False


def test_put_and_path_have_no_meaning_for_images(store: OciArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="built and pushed by CI"):
        store.put(APP, tmp_path)
    with pytest.raises(ArtifactError, match="no local directory"):
        store.path(APP, "sha256:" + "0" * 64)


# -- concurrency -----------------------------------------------------------------------------

WORKER = """
import json, sys
from shipyard.adapters.artifacts.oci import OciArtifactStore
from shipyard.adapters.artifacts.registry_client import RegistryClient
host, repo, source, app = sys.argv[1:5]
store = OciArtifactStore(RegistryClient(host, insecure=True), repo)
try:
    # A prod deploy of a release: the release's tag, then the environment's.
    done = [store.retag(source, f"{app}-2024.09.01"), store.retag(source, f"{app}-prod-2024.09.01")]
    result = {"digest": done[1].digest, "changed": all(d.changed for d in done)}
except Exception as exc:
    result = {"error": f"{type(exc).__name__}: {exc}"}
stats = store.client.stats
print(json.dumps({**result, "server_errors": stats.server_errors, "retried": stats.retried}))
"""


def test_eight_apps_promoting_one_image_at_once_all_succeed(
    registry: Registry, tmp_path: Path
) -> None:
    # Eight apps deploying the same image at once, each from its own process (the lock per
    # repository is per process): distribution 2.8.2 answers some of these concurrent
    # manifest requests with 500, and the retries must absorb every one.
    repo = "acme/shared"
    image = pushed(registry, tmp_path, repo, "abc1234", "six", multi=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                registry.host,
                repo,
                "abc1234",
                f"app{i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    failed = [r["error"] for r in results if "error" in r]
    seen_5xx = sum(r["server_errors"] for r in results)
    print(f"8 apps promoting at once: {len(failed)} failed, {seen_5xx} answers 5xx, all retried")
    assert failed == []
    assert all(r["digest"] == image.digest and r["changed"] for r in results)
    assert sum(r["retried"] for r in results) == seen_5xx  # every 5xx was retried, none failed
    with OciArtifactStore(RegistryClient(registry.host, insecure=True), repo) as store:
        tags = store.tags(APP)
    wanted = {f"app{i}{env}-2024.09.01" for i in range(8) for env in ("", "-prod")}
    assert tags == {"abc1234": image.digest} | dict.fromkeys(wanted, image.digest)


def test_writes_to_one_repository_are_serialised_within_a_process(
    registry: Registry, tmp_path: Path
) -> None:
    repo = "acme/threads"
    image = pushed(registry, tmp_path, repo, "abc1234", "seven")
    stores = [
        OciArtifactStore(RegistryClient(registry.host, insecure=True), repo) for _ in range(8)
    ]
    results: list[Retag | Exception] = []

    def promote(i: int) -> None:
        try:
            results.append(stores[i].retag("abc1234", "prod-2024.09.02"))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=promote, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(r.changed for r in results if isinstance(r, Retag)) == [False] * 7 + [True]
    assert all(isinstance(r, Retag) and r.digest == image.digest for r in results)
    assert stores[0]._lock is stores[7]._lock
    assert sum(s.client.stats.server_errors for s in stores) == 0
    for s in stores:
        s.close()


# -- Basic auth ------------------------------------------------------------------------------


def test_basic_auth_through_the_registrys_challenge(tmp_path: Path) -> None:
    need_tools()
    htpasswd = write_htpasswd(tmp_path / "htpasswd", "ci", "s3cret-pw")
    with Registry(tmp_path, htpasswd=htpasswd) as reg:
        reg.creds = ("ci", "s3cret-pw")
        image = pushed(reg, tmp_path, "acme/web", "abc1234", "eight")
        client = RegistryClient(reg.host, insecure=True, username="ci", password="s3cret-pw")
        with OciArtifactStore(client, "acme/web") as store:
            assert store.retag("abc1234", "prod-2024.09.01") == Retag(image.digest, changed=True)
            assert store.resolve(APP, "prod-2024.09.01") == image.digest
        # After the first challenge Basic is sent up front: one challenge in all.
        assert client.stats.challenges == 1
        assert 401 not in client.stats.statuses

        for user, password in (("ci", "wrong-pw"), (None, None)):
            other = OciArtifactStore(
                RegistryClient(reg.host, insecure=True, username=user, password=password),
                "acme/web",
            )
            with other, pytest.raises(RegistryError, match="refused the credentials") as caught:
                other.resolve(APP, "abc1234")
            assert caught.value.status == 502
            assert "wrong-pw" not in str(caught.value) and "s3cret" not in repr(other.client.auth)


def test_gc_never_deletes_an_image(
    registry: Registry, store: OciArtifactStore, tmp_path: Path
) -> None:
    """Registry retention is the registry's job: gc's ``remove`` and ``prune`` do nothing."""
    from shipyard.config import parse
    from shipyard.services.context import open_context
    from shipyard.services.gc import collect

    image = pushed(registry, tmp_path, store.repository, "abc1234", "kept-by-gc")
    assert store.collects is False
    assert "retention" in store.remove(APP, image.digest)
    assert store.prune() == (0, 0)
    assert store.resolve(APP, "abc1234") == image.digest
    settings = parse(
        {
            "app": {"name": "web", "run": "true"},
            "environments": {"stage": {"port": 1}},
            "artifacts": {
                "kind": "oci",
                "registry": registry.host,
                "repository": store.repository,
                "insecure": True,
                "keep": 0,
            },
            "state": {"dir": str(tmp_path / "state")},
        },
        root=tmp_path,
    )
    ctx = open_context(settings, actor="test")
    try:
        report = collect(ctx, dry_run=False)
    finally:
        ctx.close()
    assert "registry" in report.note and report.verdicts == []
    assert store.resolve(APP, "abc1234") == image.digest
