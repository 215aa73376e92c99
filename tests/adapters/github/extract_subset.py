"""Write ``openapi-subset.json``: the operations the GitHub forge adapter uses, from
``generated/api.github.com.json`` of the npm package ``@octokit/openapi``.

    npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python tests/adapters/github/extract_subset.py package/generated/api.github.com.json 23.0.2

Every component the operations reach (schemas, parameters, responses, headers,
examples) is copied as published; nothing is edited.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS = {
    "/repos/{owner}/{repo}/pulls": ["get", "post"],
    "/repos/{owner}/{repo}/pulls/{pull_number}": ["get"],
    "/repos/{owner}/{repo}/releases": ["post"],
    "/repos/{owner}/{repo}/releases/tags/{tag}": ["get"],
    "/repos/{owner}/{repo}/releases/{release_id}": ["patch"],
    "/repos/{owner}/{repo}/deployments": ["get", "post"],
    "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses": ["get", "post"],
    "/repos/{owner}/{repo}/statuses/{sha}": ["post"],
    # GitHub App authentication: find the installation, exchange the JWT for its token
    "/repos/{owner}/{repo}/installation": ["get"],
    "/app/installations/{installation_id}/access_tokens": ["post"],
}


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref)
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def subset(doc: dict[str, Any], version: str) -> dict[str, Any]:
    paths = {p: {m: doc["paths"][p][m] for m in methods} for p, methods in OPERATIONS.items()}
    components: dict[str, dict[str, Any]] = {}
    todo: set[str] = set()
    _refs(paths, todo)
    done: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in done:
            continue
        done.add(ref)
        _, _, section, name = ref.split("/", 3)
        node = doc["components"][section][name]
        components.setdefault(section, {})[name] = node
        _refs(node, todo)
    return {
        "_source": {
            "package": f"@octokit/openapi@{version}",
            "file": "generated/api.github.com.json",
            "info_version": doc["info"]["version"],
            "note": "The operations Shipyard's GitHub forge adapter sends and every component "
            "they reach, copied as published (tests/adapters/github/extract_subset.py).",
        },
        "openapi": doc["openapi"],
        "paths": paths,
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }


if __name__ == "__main__":
    source, version = Path(sys.argv[1]), sys.argv[2]
    doc = json.loads(source.read_text())
    out = Path(__file__).with_name("openapi-subset.json")
    out.write_text(json.dumps(subset(doc, version), indent=1, sort_keys=False) + "\n")
    print(out, out.stat().st_size)
