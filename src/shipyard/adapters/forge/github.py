"""The GitHub forge (``[forge] kind = "github"``) on plain httpx.

PR metadata for a batch of numbers costs a handful of requests: the repository's closed
PRs are listed newest first, 100 a page, until the oldest number asked for is passed
(past ``LIST_PAGES`` pages only while pages hold PRs asked for, at most ``MAX_PAGES``);
a number inside the listed span that the list lacks is no PR; a PR not found that way
is read alone, with ``If-None-Match`` when an older copy is cached (a 304 does not count
against the rate limit). What was read is cached (``pr_cache.py``; Shipyard's is in the database), a
number that is no PR too: the same notes again send nothing.

    forge = GitHubForge(client, "acme/web", cache)
    forge.pull_requests([12, 15])
    forge.publish_prerelease("2024.09.01", notes, sha)   # prerelease, not latest
    forge.mark_latest("2024.09.01")                      # after the prod deploy
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shipyard.adapters.forge import (
    CommitState,
    DeploymentState,
    ForgeError,
    PullRequest,
    Release,
)
from shipyard.adapters.forge.github_app import AppJwt, InstallationToken
from shipyard.adapters.forge.github_http import GitHubClient, StaticToken, TokenSource
from shipyard.adapters.forge.pr_cache import MemoryPrCache, PrCache, PrFields
from shipyard.errors import NotFound

if TYPE_CHECKING:
    from shipyard.config.forge import ForgeConfig
    from shipyard.config.settings import Settings

PER_PAGE = 100
LIST_PAGES = 5  # past this, pages without a PR asked for end the listing (old PRs:
MAX_PAGES = 50  # reading them one by one costs less); a long release lists on, to this
BODY_LIMIT = 125_000  # GitHub refuses a longer release body
DESCRIPTION_LIMIT = 140  # deployment and commit statuses
PAYLOAD_KEY = "shipyard_deployment"  # a deployment's payload: Shipyard's deployment id
STATES = frozenset(("in_progress", "success", "failure", "error", "inactive", "queued", "pending"))


class GitHubForge:
    """One repository on GitHub (or GitHub Enterprise)."""

    def __init__(self, client: GitHubClient, repository: str, cache: PrCache) -> None:
        self.client = client
        self.repo = f"/repos/{repository}"
        self.cache = cache

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def quick(self) -> GitHubForge:
        """This forge with the small retry budget of a person waiting for notes
        (``GitHubClient.quick``): unreachable, it fails in about a second."""
        self.client.quick()
        return self

    # -- pull requests ---------------------------------------------------------------

    def pull_requests(self, numbers: Iterable[int]) -> dict[int, PullRequest]:
        wanted = sorted(set(numbers))
        found = self.cache.fresh(wanted)
        missing = [n for n in wanted if n not in found]
        try:
            if len(missing) > 2:
                found.update(self._listed(missing))
            for n in [n for n in missing if n not in found]:
                found[n] = self._one(n)
        finally:
            self.cache.save()  # what was read before a failure is kept
        return {n: _pull(pr) for n, pr in found.items() if pr is not None}

    def _listed(self, missing: list[int]) -> dict[int, PrFields | None]:
        """The PRs of ``missing`` found by listing closed PRs newest first. A number
        inside the listed span that the list lacks is no merged PR (an issue): None."""
        want, oldest = set(missing), missing[0]
        out: dict[int, PrFields | None] = {}
        listed: list[int] = []
        for page in range(1, MAX_PAGES + 1):
            params = {"state": "closed", "sort": "created", "direction": "desc"}
            resp = self.client.request(
                "GET", f"{self.repo}/pulls", params={**params, "per_page": PER_PAGE, "page": page}
            )
            items = _json_list(resp.json())
            hits = [_fields(i) for i in items if i.get("number") in want]
            for fields in hits:
                out[fields["number"]] = fields
                self.cache.put(fields["number"], fields)
            listed += [n for i in items if isinstance(n := i.get("number"), int)]
            if want <= set(out):
                break
            if len(items) < PER_PAGE or min(listed, default=0) <= oldest:
                low = 0 if len(items) < PER_PAGE else min(listed)
                for n in want - set(out):
                    if low <= n <= max(listed, default=0):
                        out[n] = None
                        self.cache.put(n, None)
                break
            if page >= LIST_PAGES and not hits:
                break
        return out

    def _one(self, number: int) -> PrFields | None:
        kept = self.cache.stale(number)
        headers = {"If-None-Match": kept[1]} if kept else None
        try:
            resp = self.client.request("GET", f"{self.repo}/pulls/{number}", headers=headers)
        except NotFound:
            # An issue number, or a PR gone: the commit message stays the source.
            self.cache.put(number, None)
            return None
        if resp.status_code == 304 and kept:
            self.cache.put(number, kept[0], kept[1])
            return kept[0]
        fields = _fields(resp.json())
        self.cache.put(number, fields, resp.headers.get("etag"))
        return fields

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open the PR of the pushed branch ``head`` into ``base``."""
        data = {"title": title[:256], "head": head, "base": base, "body": body[:BODY_LIMIT]}
        resp = self.client.request("POST", f"{self.repo}/pulls", json=data)
        return _pull(_fields(resp.json()))

    # -- releases ----------------------------------------------------------------------

    def publish_prerelease(self, tag: str, notes: str, commit: str) -> Release:
        body = {
            "tag_name": tag,
            "target_commitish": commit,
            "name": tag,
            "body": notes[:BODY_LIMIT],
            "prerelease": True,
            "make_latest": "false",
        }
        try:
            resp = self.client.request("POST", f"{self.repo}/releases", json=body)
        except ForgeError as exc:
            if exc.details.get("github_status") != 422:
                raise
            return self._release(tag)  # published before (a retried outbox entry)
        return _release(resp.json())

    def mark_latest(self, tag: str) -> Release:
        release = self._release(tag)
        body = {"prerelease": False, "make_latest": "true"}
        resp = self.client.request("PATCH", f"{self.repo}/releases/{release.id}", json=body)
        return _release(resp.json())

    def _release(self, tag: str) -> Release:
        return _release(self.client.request("GET", f"{self.repo}/releases/tags/{tag}").json())

    # -- deployments -------------------------------------------------------------------

    def create_deployment(
        self,
        commit: str,
        environment: str,
        *,
        description: str,
        production: bool,
        shipyard_id: int | None = None,
    ) -> int:
        body = {
            "ref": commit,
            "environment": environment,
            "description": description[:DESCRIPTION_LIMIT],
            "auto_merge": False,
            "required_contexts": [],  # Shipyard's own gates decided already
            "production_environment": production,
            "transient_environment": False,
            "payload": {PAYLOAD_KEY: shipyard_id} if shipyard_id is not None else {},
        }
        resp = self.client.request("POST", f"{self.repo}/deployments", json=body)
        data = resp.json()
        if resp.status_code != 201 or not isinstance(data.get("id"), int):
            raise ForgeError(f"GitHub: no deployment of {commit[:7]} was created")
        return int(data["id"])

    def find_deployment(self, commit: str, environment: str, shipyard_id: int) -> int | None:
        """The deployment created for Shipyard's deployment ``shipyard_id`` (its payload)."""
        for page in range(1, LIST_PAGES + 1):
            params: dict[str, str | int] = {"sha": commit, "environment": environment}
            items = _json_list(
                self.client.request(
                    "GET",
                    f"{self.repo}/deployments",
                    params={**params, "per_page": PER_PAGE, "page": page},
                ).json()
            )
            for item in items:
                payload = item.get("payload")
                if isinstance(payload, dict) and payload.get(PAYLOAD_KEY) == shipyard_id:
                    return int(item["id"])
            if len(items) < PER_PAGE:
                break
        return None

    def deployments(self, environment: str, limit: int = 10) -> list[int]:
        """The ids of the newest ``limit`` (at most 100) deployments to ``environment``."""
        params: dict[str, str | int] = {
            "environment": environment,
            "per_page": max(1, min(limit, PER_PAGE)),
        }
        items = self.client.request("GET", f"{self.repo}/deployments", params=params).json()
        return [int(i["id"]) for i in _json_list(items) if isinstance(i.get("id"), int)]

    def deployment_state(self, deployment: int) -> DeploymentState | None:
        """The state of ``deployment``'s newest status; None before its first."""
        path = f"{self.repo}/deployments/{deployment}/statuses"
        items = _json_list(self.client.request("GET", path, params={"per_page": 1}).json())
        state = items[0].get("state") if items else None
        return state if state in STATES else None

    def deployment_status(
        self,
        deployment: int,
        state: DeploymentState,
        environment: str,
        *,
        url: str | None = None,
        description: str = "",
    ) -> None:
        body: dict[str, Any] = {
            "state": state,
            "environment": environment,
            "description": description[:DESCRIPTION_LIMIT],
            # the environment's earlier successful deployments become inactive (GitHub does
            # so for non-production environments; the reporter does it for production)
            "auto_inactive": True,
        }
        if url:
            body["environment_url"] = url
        self.client.request("POST", f"{self.repo}/deployments/{deployment}/statuses", json=body)

    def commit_status(
        self, commit: str, state: CommitState, context: str, *, description: str = ""
    ) -> None:
        body = {"state": state, "context": context, "description": description[:140]}
        self.client.request("POST", f"{self.repo}/statuses/{commit}", json=body)


def _json_list(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise ForgeError("GitHub: a list answered something else")
    return [d for d in data if isinstance(d, dict)]


def _fields(pr: Any) -> PrFields:
    """The fields Shipyard keeps of a PR (``pull-request`` or ``pull-request-simple``)."""
    try:
        return {
            "number": int(pr["number"]),
            "title": str(pr["title"]),
            "author": str((pr.get("user") or {}).get("login") or "ghost"),
            "labels": [str(label["name"]) for label in pr.get("labels") or []],
            "url": str(pr["html_url"]),
        }
    except (KeyError, TypeError, ValueError):
        raise ForgeError("GitHub: a pull request without number, title or URL") from None


def _pull(f: PrFields) -> PullRequest:
    return PullRequest(f["number"], f["title"], f["author"], tuple(f["labels"]), f["url"])


def _release(data: Any) -> Release:
    try:
        return Release(
            int(data["id"]), str(data["tag_name"]), str(data["html_url"]), bool(data["prerelease"])
        )
    except (KeyError, TypeError, ValueError):
        raise ForgeError("GitHub: a release without id, tag or URL") from None


def create(settings: Settings, cache: PrCache | None = None) -> GitHubForge:
    """The ``forge.github`` factory, from ``[forge]``; the token (or the App's key) is read
    at first use. ``cache`` keeps PR metadata between runs (the database's, from the
    context)."""
    cfg = settings.forge
    assert cfg.repository is not None  # checked by the config
    client = GitHubClient(cfg.api, token=auth(cfg))
    return GitHubForge(client, cfg.repository, cache or MemoryPrCache())


def auth(cfg: ForgeConfig) -> TokenSource:
    """The token of ``[forge]``: its ``token`` variable, or its GitHub App's installation."""
    if cfg.app_id is None or cfg.private_key is None:
        return StaticToken(cfg.token_value)
    assert cfg.repository is not None
    app = GitHubClient(cfg.api, AppJwt(cfg.app_id, cfg.private_key.read))
    return InstallationToken(app, cfg.app_id, cfg.repository, cfg.installation_id)
