"""A commit's files read straight from git objects: ``ls-tree`` for the list, one
``cat-file --batch`` for the contents of the blobs asked for.

Cheaper than ``git archive`` through ``tarfile`` and it lets a caller read only the
blobs it does not hold yet. ``git archive`` remains the reference: when an
``export-ignore`` or ``export-subst`` attribute could apply, :func:`list_files`
answers None and the caller exports through :meth:`GitRepo.export_tree`.

    files = list_files(repo, sha)                       # doctest: +SKIP
    for oid, data in read_blobs(repo, [f.oid for f in files]):  # doctest: +SKIP
        ...
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from shipyard.adapters.git.repo import GitRepo
from shipyard.core.trees import GITLINK, SYMLINK, TreeFile, bad_link, bad_path
from shipyard.errors import GitError

_ATTRIBUTE_FILES = (Path("/etc/gitattributes"),)


def list_files(repo: GitRepo, sha: str) -> list[TreeFile] | None:
    """Every file of commit ``sha`` (blobs, symlinks, submodules), or None when export
    attributes may apply and only ``git archive`` lays the tree out exactly."""
    args = ["ls-tree", "-r", "-z", "--full-tree", repo.resolve(sha)]
    try:
        proc = subprocess.run(repo._argv(args), capture_output=True, env=repo._env, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        raise repo._error(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    files = []
    for record in proc.stdout.split(b"\0"):
        if not record:
            continue
        meta, raw = record.split(b"\t", 1)
        mode, _, oid = meta.decode().split(" ")
        path = os.fsdecode(raw)
        why = bad_path(path)
        if why:
            raise GitError(f"cannot export {sha}: {why}")
        files.append(TreeFile(path, mode, oid))
    if _export_attributes(repo, files):
        return None
    return files


def _export_attributes(repo: GitRepo, files: Sequence[TreeFile]) -> bool:
    """Whether an attribute file the commit or the repository holds names ``export-``."""
    in_tree = [f.oid for f in files if f.path.rsplit("/", 1)[-1] == ".gitattributes"]
    if any(b"export-" in data for _, data in read_blobs(repo, in_tree)):
        return True
    info = repo.run("rev-parse", "--git-path", "info/attributes").strip()
    configured = repo._exec(["config", "--path", "--get", "core.attributesFile"]).stdout.strip()
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    candidates = [repo.path / info, Path(xdg) / "git" / "attributes", *_ATTRIBUTE_FILES]
    if configured:
        candidates.append(Path(configured))
    for path in candidates:
        try:
            if b"export-" in path.read_bytes():
                return True
        except OSError:
            continue
    return False


def read_blobs(repo: GitRepo, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """``(oid, content)`` of each blob, in the order asked; GitError for a missing one."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return
    try:
        proc = subprocess.Popen(
            repo._argv(["cat-file", "--batch"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=repo._env,
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    assert proc.stdin is not None and proc.stdout is not None
    writer = threading.Thread(target=_feed, args=(proc.stdin, wanted), daemon=True)
    writer.start()
    out = _Batch(proc.stdout)
    try:
        for _ in wanted:
            header = out.line().split()
            if len(header) != 3 or header[1] != b"blob":
                raise GitError(f"cannot read blob {header[0].decode() if header else '?'}")
            data = out.take(int(header[2]))
            if data is None:
                raise GitError(f"cannot read blob {header[0].decode()}: short read")
            yield header[0].decode(), data
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        writer.join(timeout=5)


class _Batch:
    """``git cat-file --batch``'s output, read as it comes a large chunk at a time (a
    header line and a body per blob would be two reads each)."""

    CHUNK = 1 << 20

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.buf, self.pos = stream, bytearray(), 0

    def _more(self) -> bool:
        if self.pos:  # what was handed out already goes
            del self.buf[: self.pos]
            self.pos = 0
        chunk = self.stream.read1(self.CHUNK)  # type: ignore[attr-defined]
        self.buf += chunk
        return bool(chunk)

    def line(self) -> bytes:
        """The next line without its newline (what is left at the end)."""
        while (end := self.buf.find(b"\n", self.pos)) < 0:
            if not self._more():
                end = len(self.buf)
                break
        line = bytes(self.buf[self.pos : end])
        self.pos = end + 1
        return line

    def take(self, size: int) -> bytes | None:
        """The next ``size`` bytes and the newline after them; None if the output ends first."""
        while len(self.buf) - self.pos < size + 1:
            if not self._more():
                return None
        with memoryview(self.buf) as view:
            data = view[self.pos : self.pos + size].tobytes()
        self.pos += size + 1
        return data


def _feed(stdin: object, oids: list[str]) -> None:
    try:
        stdin.write(("\n".join(oids) + "\n").encode())  # type: ignore[attr-defined]
        stdin.close()  # type: ignore[attr-defined]
    except OSError:  # git went away: the reader reports it
        pass


def write_files(repo: GitRepo, sha: str, dest: Path) -> None:
    """Write the files of commit ``sha`` into ``dest`` as fresh, writable files: what
    :meth:`GitRepo.export_tree` writes, without a tar stream in between."""
    write_listed(repo, sha, list_files(repo, sha), dest)


def write_listed(repo: GitRepo, sha: str, files: Sequence[TreeFile] | None, dest: Path) -> None:
    """:func:`write_files` with the commit's files listed already (``list_files``: None
    when only ``git archive`` lays them out)."""
    if files is None:
        repo.export_tree(sha, dest)
        return
    try:
        lay_out(repo, sha, files, dest)
    except OSError as exc:
        raise GitError(f"cannot export {sha} to {dest}: {exc}") from None


def lay_out(repo: GitRepo, sha: str, files: Sequence[TreeFile], dest: Path) -> None:
    """Write ``files`` of commit ``sha`` under ``dest``, which holds none of them yet:
    files with the modes git records (0644, 0755), links, empty folders for submodules.
    OSError if the file system refuses; GitError for a link that leaves the tree."""
    dest.mkdir(parents=True, exist_ok=True)
    made: set[str] = set()
    by_oid: dict[str, list[TreeFile]] = {}
    for f in files:
        _parents(dest, f.path, made)
        if f.mode == GITLINK:
            os.makedirs(dest / f.path, exist_ok=True)
        else:
            by_oid.setdefault(f.oid, []).append(f)
    for oid, data in read_blobs(repo, by_oid):
        for f in by_oid[oid]:
            where = f"{dest}/{f.path}"
            if f.mode == SYMLINK:
                target = os.fsdecode(data)
                why = bad_link(f.path, target)
                if why:
                    raise GitError(f"cannot export {sha}: {why}")
                os.symlink(target, where)
                continue
            mode = int(f.mode[-3:], 8)
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                os.fchmod(fd, mode)  # whatever the umask: a kept copy is compared with it
                _write_all(fd, data)
            finally:
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _parents(dest: Path, path: str, made: set[str]) -> None:
    parent = path.rpartition("/")[0]
    if parent and parent not in made:
        os.makedirs(os.path.join(dest, parent), exist_ok=True)
        while parent and parent not in made:
            made.add(parent)
            parent = parent.rpartition("/")[0]
