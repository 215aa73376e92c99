"""The deployments of the GitHub double: created, listed newest first, and their
statuses, with GitHub's ``auto_inactive`` (earlier successful deployments of the same
environment become inactive, except in production)."""

from __future__ import annotations

from typing import Any

Reply = tuple[int, dict[str, str], Any]


class Deployments:
    """Mixed into ``GitHubDouble``, which holds ``deployments``, ``statuses`` and
    ``description``."""

    deployments: list[dict[str, Any]]
    statuses: list[tuple[int, dict[str, Any]]]
    description: Any

    def state_of(self, deployment_id: int) -> str | None:
        """The newest status of a deployment, as GitHub shows it."""
        states = [b["state"] for d, b in self.statuses if d == deployment_id]
        return states[-1] if states else None

    def _deploy(self, body: dict[str, Any]) -> Reply:
        deployment = self.description.example("deployment-simple-example")
        deployment.update(
            id=len(self.deployments) + 1,
            sha=body["ref"],
            ref=body["ref"],
            environment=body.get("environment", "production"),
            description=body.get("description"),
            production_environment=body.get("production_environment", False),
            payload=body.get("payload", {}),
        )
        self.deployments.append(deployment)
        return 201, {}, deployment

    def _deployments(self, query: dict[str, list[str]]) -> Reply:
        wanted = {k: query[k][0] for k in ("sha", "environment", "ref") if k in query}
        found = [d for d in reversed(self.deployments) if all(d[k] == v for k, v in wanted.items())]
        return 200, {}, page(found, query)

    def _deployment_statuses(self, deployment_id: int, query: dict[str, list[str]]) -> Reply:
        if not 0 < deployment_id <= len(self.deployments):
            return 404, {}, {"message": "Not Found"}
        mine = [(i, b) for i, (d, b) in enumerate(self.statuses, 1) if d == deployment_id]
        items = []
        for number, body in reversed(mine):
            status = self.description.example("deployment-status")
            env = body.get("environment") or self.deployments[deployment_id - 1]["environment"]
            status.update(id=number, state=body["state"], environment=env)
            status.update(description=body.get("description", ""))
            items.append(status)
        return 200, {}, page(items, query)

    def _deployment_status(self, deployment_id: int, body: dict[str, Any]) -> Reply:
        if not 0 < deployment_id <= len(self.deployments):
            return 404, {}, {"message": "Not Found"}
        deployment = self.deployments[deployment_id - 1]
        if body["state"] == "success" and body.get("auto_inactive", True):
            # GitHub: earlier successful deployments to the same environment become inactive,
            # except in production (and transient) environments.
            for earlier in self.deployments[: deployment_id - 1]:
                same = earlier["environment"] == deployment["environment"]
                kept = (
                    earlier["production_environment"] or self.state_of(earlier["id"]) != "success"
                )
                if same and not kept:
                    self.statuses.append((earlier["id"], {"state": "inactive"}))
        self.statuses.append((deployment_id, body))
        status = self.description.example("deployment-status")
        status.update(id=len(self.statuses), state=body["state"])
        status["environment"] = body.get("environment", "production")
        return 201, {}, status


def page(items: list[Any], query: dict[str, list[str]]) -> list[Any]:
    per_page = int(query.get("per_page", ["30"])[0])
    number = int(query.get("page", ["1"])[0])
    return items[(number - 1) * per_page : number * per_page]
