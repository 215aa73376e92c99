"""The ``shipyard.toml`` that ``shipyard init`` writes: every section, commented."""

from __future__ import annotations

TEMPLATE = """\
# Shipyard configuration; docs/configuration.md in Shipyard describes every key.
# Every key below is optional unless marked required.

[app]
name = "{name}"                     # required: lower-case, digits, - and _
repo = "."                          # the git repository (a path)
main = "main"                       # the branch every change merges into
run = "{run}"             # required: started from the artifact's root with PORT set
{source}
health = "/__heartbeat__"           # must answer 200 before traffic switches
ticket_prefixes = [{prefixes}]             # only these keys are tickets (MNTOR-123)
# ticket_sources = ["title", "branch", "body"]   # where keys are read from
# ticket_body = "fallback"          # the body only when the title names no key; or "always"
# since = "2024.09.01"              # first sync: record tickets since this ref (default: newest release tag)
exclude_authors = ["dependabot[bot]", "*-l10n*"]   # left out of release notes
# timezone = "UTC"                  # the day a pre-release is named after

[checks]                            # run on every new commit of main; all must pass
{checks}
[environments.stage]
port = {stage}
auto = true                         # follows every green build of main

[environments.dev]
port = {dev}
accepts = '^[0-9a-f]{{7,12}}$'        # a short commit SHA
tag = "dev-{{ref}}"
after = "stage"                     # only builds that succeeded on stage

[environments.prod]
port = {prod}
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'   # a release tag, 2024.09.01 or 2024.09.01.1
tag = "prod-{{ref}}"
after = "stage"
require_qa = true                   # every ticket verified, or --allow-unverified --reason
# artifact_wait = 60                # seconds to wait for a build's artifact
# health_timeout = 30               # seconds a new instance has to become healthy

# [links]                           # commits, PRs and compares link to GitHub when
#                                   # [app] source names a GitHub repository
# jira = ...                        # your Atlassian site's name: tickets link to its /browse/KEY
# ticket = ...                      # or any tracker: a URL with {{key}} in it

# [[notify]]                        # where events go; a log file by default
# type = "slack"
# url = {{ env = "SLACK_WEBHOOK_URL" }}

# [state]
# dir = ".shipyard"                 # SQLite database, artifacts, logs
# database_url = ...               # PostgreSQL instead of SQLite (or SHIPYARD_DATABASE_URL)

# [server]                          # 'shipyard serve' here serves these apps too
# apps = ["../billing/shipyard.toml"]   # paths or globs; all on one database_url
"""


def render_template(
    *,
    name: str,
    run: str,
    prefixes: list[str],
    checks: dict[str, str],
    ports: dict[str, int],
    source: str | None = None,
) -> str:
    """The commented file; ``ports`` has the ``stage``, ``dev`` and ``prod`` ports and
    ``source`` the repository's URL (say, its GitHub remote) when there is one."""
    check_lines = (
        "".join(f"{k} = {_quoted(v)}\n" for k, v in checks.items())
        or '# unit = "python3 -m pytest -q"\n'
    )
    source_line = (
        f"source = {_quoted(source)}   # links to commits and PRs, version.json\n"
        if source
        else "# source = ...                    # the repository's URL: links to commits and PRs\n"
    )
    return TEMPLATE.format(
        name=name,
        run=_quoted(run)[1:-1],
        prefixes=", ".join(_quoted(p) for p in prefixes),
        checks=check_lines,
        source=source_line,
        stage=ports["stage"],
        dev=ports["dev"],
        prod=ports["prod"],
    )


def _quoted(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    import json

    return json.dumps(value, ensure_ascii=False)
