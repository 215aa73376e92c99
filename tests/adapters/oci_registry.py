"""A real OCI registry for tests: Debian's ``docker-registry`` (distribution 2.8.2) on a free
loopback port with a temporary storage directory, and images pushed into it with Debian's
``skopeo`` from OCI image layouts built here in Python.

    with Registry(tmp_path) as reg:
        image = build_image(tmp_path / "layout", "web-1")       # one manifest
        reg.push(image.layout, "acme/web", "abc1234")
        index = build_index(tmp_path / "multi", "web-2")         # two platforms

The layouts follow the OCI image layout specification
(https://github.com/opencontainers/image-spec/blob/main/image-layout.md): ``oci-layout``,
``index.json`` naming the image as ``latest``, and content-addressed ``blobs/sha256/``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

from conftest import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def need_tools() -> None:
    """Skip unless Debian's docker-registry and skopeo are installed (scripts/services)."""
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/services installs it)")


@dataclass(frozen=True)
class Image:
    layout: Path
    digest: str  # of the top-level manifest or index
    media_type: str
    blobs: frozenset[str]  # every blob digest (configs and layers)


def _put_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def _layer(content: str) -> tuple[bytes, bytes]:
    """A one-file tar (uncompressed, gzipped): deterministic for a given content."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = content.encode()
        info = tarfile.TarInfo("app/version.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue(), gzip.compress(raw.getvalue(), mtime=0)


def _manifest(layout: Path, content: str, arch: str) -> tuple[bytes, set[str]]:
    tar, tgz = _layer(content)
    layer_digest, layer_size = _put_blob(layout, tgz)
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": [f"CONTENT={content}"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    }
    config_digest, config_size = _put_blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
    }
    # Indented on purpose: a client that re-serialises the JSON changes the digest.
    return json.dumps(manifest, indent=3).encode(), {layer_digest, config_digest}


def _write_layout(layout: Path, top: bytes, media_type: str) -> str:
    digest, size = _put_blob(layout, top)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    ref = {"org.opencontainers.image.ref.name": "latest"}
    index = {
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": media_type, "digest": digest, "size": size, "annotations": ref}
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return digest


def build_image(layout: Path, content: str) -> Image:
    """An OCI layout holding one single-platform image whose layer holds ``content``."""
    layout.mkdir(parents=True, exist_ok=True)
    manifest, blobs = _manifest(layout, content, "amd64")
    digest = _write_layout(layout, manifest, OCI_MANIFEST)
    return Image(layout, digest, OCI_MANIFEST, frozenset(blobs))


def build_index(layout: Path, content: str) -> Image:
    """An OCI layout holding a multi-arch index of two manifests (amd64 and arm64)."""
    layout.mkdir(parents=True, exist_ok=True)
    entries, blobs = [], set()
    for arch in ("amd64", "arm64"):
        manifest, used = _manifest(layout, f"{content}-{arch}", arch)
        blobs |= used
        digest, size = _put_blob(layout, manifest)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    digest = _write_layout(layout, json.dumps(index, indent=3).encode(), OCI_INDEX)
    return Image(layout, digest, OCI_INDEX, frozenset(blobs))


_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth}"""


class Registry:
    """``docker-registry serve`` on a free loopback port; stopped (and waited for) on exit.

    ``htpasswd`` (a file of bcrypt entries) turns on distribution's Basic auth."""

    def __init__(self, tmp: Path, *, htpasswd: Path | None = None) -> None:
        self.port = free_port()
        self.root = tmp / f"registry-{self.port}"
        self.root.mkdir(parents=True)
        auth = ""
        if htpasswd is not None:
            auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n"
        self.config = self.root / "config.yml"
        self.config.write_text(_CONFIG.format(root=self.root / "data", port=self.port, auth=auth))
        self.host = f"127.0.0.1:{self.port}"
        self.log = self.root / "registry.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.creds: tuple[str, str] | None = None

    def __enter__(self) -> Registry:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", str(self.config)], stdout=log, stderr=log
            )
        try:
            self._wait_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_up(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # up, behind auth
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer GET /v2/ within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def push(self, layout: Path, repository: str, tag: str) -> None:
        """``skopeo copy`` the layout's ``latest`` to ``repository:tag``, every platform, digests
        kept."""
        args = ["skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false"]
        if self.creds is not None:
            args.append(f"--dest-creds={self.creds[0]}:{self.creds[1]}")
        args += [f"oci:{layout}:latest", f"docker://{self.host}/{repository}:{tag}"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"skopeo copy failed: {done.stderr.strip()}")

    def blob_count(self) -> int:
        """How many blobs the registry stores (a retag must add none)."""
        blobs = self.root / "data" / "docker" / "registry" / "v2" / "blobs"
        return sum(1 for p in blobs.rglob("data") if p.is_file()) if blobs.is_dir() else 0


def write_htpasswd(path: Path, user: str, password: str) -> Path:
    """A bcrypt htpasswd file (distribution accepts bcrypt only), by apache2-utils' htpasswd."""
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd is not installed (apache2-utils; scripts/services installs it)")
    done = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    path.write_text(done.stdout)
    return path
