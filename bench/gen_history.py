"""Generate a large synthetic GitHub-style repository with ``git fast-import``.

The first-parent chain of ``main`` is made of GitHub merge commits (each
merging a branch of 1-4 commits), squash merges (``Title (#N)``) and a few
direct commits. Titles carry ticket keys (``MNTOR-n``) and decoys
(``CVE-2024-1234``, ``KIP-500``); some PRs come from ``dependabot[bot]``, some
direct commits from a ``mozilla-l10n`` bot; there are occasional reverts and
re-reverts, and a date tag ``YYYY.MM.DD`` (``.N`` when a day has several)
roughly every 50 commits, alternately annotated and lightweight.

The repository is cached under ``bench/.work/`` in a directory named after the
parameters, so a second run reuses it::

    .venv/bin/python bench/gen_history.py --commits 110000 --seed 1
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
GENERATOR_VERSION = 1  # bump when the shape of the history changes

START = 1_420_070_400  # 2015-01-01T00:00:00Z
MINUTES_PER_COMMIT = (5, 55)  # ~30 min a commit, so ~one tag (every ~50 commits) a day

DEVS = [(f"Dev {n:02d}", f"dev{n:02d}@example.com") for n in range(40)]
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
L10N = ("mozilla-l10n-automation-bot", "mozilla-l10n-automation-bot@users.noreply.github.com")
GITHUB = ("GitHub", "noreply@github.com")

VERBS = ["Add", "Fix", "Update", "Refactor", "Remove", "Improve", "feat:", "fix(api):",
         "Implement", "Hotfix", "Tweak", "Move", "Bug"]  # fmt: skip
NOUNS = ["login form", "breach alerts", "email templates", "dashboard", "settings page",
         "onboarding flow", "scan results", "subscription check", "CSP headers",
         "feature flags", "logging", "cron job", "metrics", "data broker list",
         "unsubscribe link", "rate limiter", "footer", "error page"]  # fmt: skip
PACKAGES = ["lodash", "next", "react", "eslint", "@sentry/nextjs", "typescript", "jest"]
LOCALES = ["de", "fr", "es-ES", "it", "nl", "pt-BR", "zh-TW", "ja", "pl", "sv-SE"]


@dataclass(frozen=True)
class Params:
    commits: int = 110_000
    seed: int = 1
    tag_every: int = 50
    commit_graph: bool = True

    @property
    def name(self) -> str:
        graph = "" if self.commit_graph else "-nograph"
        return f"history-v{GENERATOR_VERSION}-c{self.commits}-s{self.seed}-t{self.tag_every}{graph}"


@dataclass
class _State:
    rng: random.Random
    clock: int = START
    mark: int = 0
    total: int = 0  # commits written
    pr: int = 0
    ticket: int = 100
    main: int = 0  # mark of main's tip
    since_tag: int = 0
    tags_on_day: dict[str, int] = field(default_factory=dict)
    titles: list[tuple[str, str, int]] = field(default_factory=list)  # title, fake sha, pr
    files: int = 0


def _tick(s: _State) -> int:
    s.clock += 60 * s.rng.randint(*MINUTES_PER_COMMIT)
    return s.clock


def _commit(
    s: _State,
    ref: str,
    message: str,
    author: tuple[str, str],
    *,
    parent: int,
    merge: int | None = None,
    committer: tuple[str, str] | None = None,
) -> Iterator[bytes]:
    s.mark += 1
    s.total += 1
    s.since_tag += 1
    when = _tick(s)
    who = committer or author
    data = message.encode()
    yield (
        f"commit {ref}\nmark :{s.mark}\n"
        f"author {author[0]} <{author[1]}> {when} +0000\n"
        f"committer {who[0]} <{who[1]}> {when} +0000\n"
        f"data {len(data)}\n"
    ).encode()
    yield data
    yield f"\nfrom :{parent}\n".encode() if parent else b"\n"
    if merge is not None:
        yield f"merge :{merge}\n".encode()
    for _ in range(s.rng.randint(1, 3)):
        path = f"src/mod{s.rng.randrange(60):02d}/file{s.rng.randrange(40):02d}.js"
        body = f"// {s.total} {message[:40]!r}\nexport const v = {s.total};\n".encode()
        yield f"M 100644 inline {path}\ndata {len(body)}\n".encode() + body + b"\n"
    yield b"\n"


def _title(s: _State) -> tuple[str, str]:
    """A PR title and its branch name; most carry a ticket key, some a decoy."""
    rng = s.rng
    verb, noun = rng.choice(VERBS), rng.choice(NOUNS)
    title = f"{verb} {noun}"
    branch = noun.replace(" ", "-").lower()
    roll = rng.random()
    if roll < 0.65:
        s.ticket += rng.randint(0, 3)
        key = f"MNTOR-{s.ticket}"
        if rng.random() < 0.5:
            title += f" ({key})"
        branch = f"{key}-{branch}" if rng.random() < 0.7 else f"{key.lower()}-{branch}"
    elif roll < 0.72:
        title += f" for CVE-2024-{rng.randint(1000, 9999)}"
    elif roll < 0.76:
        title += f" per KIP-{rng.randint(100, 900)}"
    return title, branch


def _maybe_revert(s: _State) -> tuple[str, str] | None:
    """Now and then a revert of an earlier change, or a revert of a revert."""
    if not s.titles or s.rng.random() > 0.012:
        return None
    recent_reverts = [t for t in s.titles[-300:] if t[0].startswith('Revert "')]
    if recent_reverts and s.rng.random() < 0.3:
        title, sha, _ = s.rng.choice(recent_reverts)  # a revert of a revert
    else:
        title, sha, _ = s.rng.choice(s.titles[-200:])
    new_title = f'Revert "{title}"'
    body = f"This reverts commit {sha}."
    return new_title, body


def _fake_sha(rng: random.Random) -> str:
    # fast-import does not tell us SHAs mid-stream; a revert body only needs a plausible one.
    return "".join(rng.choice("0123456789abcdef") for _ in range(40))


def _pr(s: _State) -> Iterator[bytes]:
    rng = s.rng
    s.pr += 1
    author = rng.choice(DEVS)
    body = ""
    revert = _maybe_revert(s)
    if revert:
        title, body = revert
        branch = f"revert-{s.pr - rng.randint(1, 50)}-{rng.choice(NOUNS).replace(' ', '-')}"
    elif rng.random() < 0.05:
        pkg = rng.choice(PACKAGES)
        a, b = rng.randint(1, 9), rng.randint(0, 30)
        title = f"Bump {pkg} from {a}.{b}.0 to {a}.{b + 1}.0"
        branch = f"dependabot/npm_and_yarn/{pkg}-{a}.{b + 1}.0"
        author = DEPENDABOT
    else:
        title, branch = _title(s)
        if rng.random() < 0.03:
            body = f"Also tracked upstream as KIP-{rng.randint(100, 900)}; see CVE-2024-1234."
    if rng.random() < 0.62:  # a merge commit of a 1-4 commit branch
        tip = s.main
        for i in range(rng.randint(1, 4)):
            msg = title if i == 0 else f"{rng.choice(['Address review', 'Fix tests', 'WIP'])} {i}"
            if i == 0 and body:
                msg += f"\n\n{body}"
            yield from _commit(s, "refs/heads/topic", msg, author, parent=tip)
            tip = s.mark
        merger = rng.choice(DEVS)
        msg = f"Merge pull request #{s.pr} from mozilla/{branch}\n\n{title}\n"
        yield from _commit(
            s, "refs/heads/main", msg, merger, parent=s.main, merge=tip, committer=GITHUB
        )
    else:  # a squash merge
        msg = f"{title} (#{s.pr})"
        if body:
            msg += f"\n\n{body}"
        elif rng.random() < 0.3:
            msg += "\n\n* Address review\n\n* Fix tests"
        yield from _commit(s, "refs/heads/main", msg, author, parent=s.main, committer=GITHUB)
    s.main = s.mark
    s.titles.append((title, _fake_sha(rng), s.pr))


def _direct(s: _State) -> Iterator[bytes]:
    locale = s.rng.choice(LOCALES)
    msg = f"Pontoon: Update {locale} localization of Mozilla Monitor\n\nCo-authored-by: x <x@y>"
    yield from _commit(s, "refs/heads/main", msg, L10N, parent=s.main)
    s.main = s.mark


def _tag(s: _State) -> Iterator[bytes]:
    day = time.strftime("%Y.%m.%d", time.gmtime(s.clock))
    n = s.tags_on_day.get(day, 0)
    s.tags_on_day[day] = n + 1
    name = day if n == 0 else f"{day}.{n}"
    s.since_tag = 0
    if len(s.tags_on_day) % 2:
        msg = f"Release {name}".encode()
        yield (
            (
                f"tag {name}\nfrom :{s.main}\n"
                f"tagger Release Bot <release@example.com> {s.clock} +0000\ndata {len(msg)}\n"
            ).encode()
            + msg
            + b"\n"
        )
    else:
        yield f"reset refs/tags/{name}\nfrom :{s.main}\n\n".encode()


def stream(params: Params) -> Iterator[bytes]:
    """The fast-import stream for ``params``."""
    s = _State(random.Random(params.seed))
    yield from _commit(s, "refs/heads/main", "Initial commit", DEVS[0], parent=0)
    s.main = s.mark
    while s.total < params.commits:
        if s.rng.random() < 0.04:
            yield from _direct(s)
        else:
            yield from _pr(s)
        if s.since_tag >= params.tag_every + s.rng.randint(-10, 10):
            yield from _tag(s)
    yield from _tag(s)


def _git(path: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(path), *args], check=True, stdout=subprocess.DEVNULL)


def generate(params: Params, *, quiet: bool = False) -> Path:
    """Build the repository for ``params`` (or reuse the cached one); returns its path."""
    final = WORK / params.name
    if (final / ".git" / "shipyard-bench-done").exists():
        return final
    tmp = WORK / f"{params.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    _git(tmp, "-c", "init.defaultBranch=main", "init", "--quiet")
    proc = subprocess.Popen(
        ["git", "-C", str(tmp), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    with proc.stdin as pipe:
        buffer: list[bytes] = []
        for piece in stream(params):
            buffer.append(piece)
            if len(buffer) > 4096:
                pipe.write(b"".join(buffer))
                buffer.clear()
        pipe.write(b"".join(buffer) + b"done\n")
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    _git(tmp, "update-ref", "-d", "refs/heads/topic")
    _git(tmp, "checkout", "--quiet", "main")
    _git(tmp, "gc", "--quiet", "--prune=now")
    if params.commit_graph:
        # What `git gc` leaves on a real clone; git log benefits, on both sides of the bench.
        _git(tmp, "commit-graph", "write", "--reachable")
    (tmp / ".git" / "shipyard-bench-done").write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    if not quiet:
        took = time.perf_counter() - started
        print(f"generated {final} in {took:.1f}s", file=sys.stderr)
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=Params.commits)
    parser.add_argument("--seed", type=int, default=Params.seed)
    parser.add_argument("--tag-every", type=int, default=Params.tag_every)
    parser.add_argument("--no-commit-graph", action="store_true")
    args = parser.parse_args()
    params = Params(args.commits, args.seed, args.tag_every, not args.no_commit_graph)
    print(generate(params))


if __name__ == "__main__":
    main()
