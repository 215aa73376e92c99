"""The ``shipyard.toml`` that ``shipyard init`` writes: every section, commented."""

from __future__ import annotations

TEMPLATE = """\
# Shipyard configuration: https://github.com/shipyard (see docs/configuration.md)
# Every key below is optional unless marked required.

[app]
name = "{name}"                     # required: lower-case, digits, - and _
repo = "."                          # the git repository (a path)
main = "main"                       # the branch every change merges into
run = "{run}"             # required: started from the artifact's root with PORT set
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
port = 8101
auto = true                         # follows every green build of main

[environments.dev]
port = 8103
accepts = '^[0-9a-f]{{7,12}}$'        # a short commit SHA
tag = "dev-{{ref}}"
after = "stage"                     # only builds that succeeded on stage

[environments.prod]
port = 8102
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'   # a release tag, 2024.09.01 or 2024.09.01.1
tag = "prod-{{ref}}"
after = "stage"
require_qa = true                   # every ticket verified, or --allow-unverified --reason
# artifact_wait = 60                # seconds to wait for a build's artifact
# health_timeout = 30               # seconds a new instance has to become healthy

# [[notify]]                        # where events go; a log file by default
# type = "slack"
# url = {{ env = "SLACK_WEBHOOK_URL" }}

# [state]
# dir = ".shipyard"                 # SQLite database, artifacts, logs
# database_url = "postgresql+psycopg://127.0.0.1/shipyard"

# [server]                          # 'shipyard serve' here serves these apps too
# apps = ["../billing/shipyard.toml"]   # paths or globs; all on one database_url
"""


def render_template(*, name: str, run: str, prefixes: list[str], checks: dict[str, str]) -> str:
    check_lines = (
        "".join(f'{k} = "{v}"\n' for k, v in checks.items()) or '# unit = "python -m pytest -q"\n'
    )
    return TEMPLATE.format(
        name=name,
        run=run,
        prefixes=", ".join(f'"{p}"' for p in prefixes),
        checks=check_lines,
    )
