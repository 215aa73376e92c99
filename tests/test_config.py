from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import load, parse, render_template
from shipyard.core.tickets import KeySources
from shipyard.errors import ConfigError, NotFound

ISSUE_EXAMPLE = r"""
[app]
name = "monitor"
repo = "."                          # the git repository (a path; a URL later)
main = "main"
run = "python app.py"               # started from the artifact's root with PORT set
health = "/__heartbeat__"
ticket_prefixes = ["MNTOR"]
exclude_authors = ["dependabot[bot]", "*-l10n*"]   # left out of release notes

[checks]                            # run on every new commit of main; all must pass
unit = "python -m pytest -q"

[environments.stage]
port = 8101
auto = true                         # follows every green build of main

[environments.dev]
port = 8103
accepts = '^[0-9a-f]{7,12}$'
tag = "dev-{ref}"
after = "stage"                     # only builds that succeeded on stage

[environments.prod]
port = 8102
accepts = '^\d{4}\.\d{2}\.\d{2}(\.\d+)?$'
tag = "prod-{ref}"
after = "stage"
require_qa = true
"""


def test_the_documented_example_loads_as_written(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text(ISSUE_EXAMPLE)
    s = load(tmp_path / "shipyard.toml")
    prod = s.environment("prod")
    assert prod.accepts_ref("2024.09.01") and prod.accepts_ref("2024.09.01.1")
    assert not prod.accepts_ref("2024.9.1") and not prod.accepts_ref("prod-2024.09.01")
    assert prod.marks_latest and prod.promotes_tickets and prod.after == "stage"
    assert not s.environment("dev").marks_latest
    assert s.release_source == "stage"
    assert s.database_url.endswith(".shipyard/shipyard.db")


def test_the_init_template_loads(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text(
        render_template(
            name="monitor",
            run="python3 app.py",
            prefixes=["MNTOR"],
            checks={"unit": "pytest"},
            ports={"stage": 8111, "dev": 8112, "prod": 8113},
        )
    )
    s = load(tmp_path / "shipyard.toml")
    assert list(s.environments) == ["stage", "dev", "prod"] and s.checks == {"unit": "pytest"}


def test_environment_variables_override_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shipyard.toml").write_text(ISSUE_EXAMPLE)
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", "postgresql+psycopg://127.0.0.1/x")
    monkeypatch.setenv("SHIPYARD_STATE_DIR", "/tmp/elsewhere")
    s = load(tmp_path / "shipyard.toml")
    assert s.database_url == "postgresql+psycopg://127.0.0.1/x"
    assert s.state_dir == Path("/tmp/elsewhere")


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        (
            {"environments": {"a": {"port": 1, "after": "a"}}},
            "environments -> a -> after: the upstream chain loops",
        ),
        (
            {"environments": {"a": {"port": 1}, "b": {"port": 1}}},
            "environments -> b -> port: 1 is also a's port",
        ),
        ({"environments": {}}, "at least one environment"),
        ({"environments": {"Prod": {"port": 1}}}, "environments -> Prod"),
        ({"notify": [{"type": "slack"}]}, "notify -> 0: Value error, a slack sink needs 'url'"),
    ],
)
def test_errors_name_the_field(patch: dict[str, object], where: str) -> None:
    data: dict[str, object] = {"app": {"name": "x", "run": "r"}, "environments": {"p": {"port": 1}}}
    data.update(patch)
    with pytest.raises(ConfigError) as err:
        parse(data, root=Path("."))
    assert where.replace("Value error, ", "") in err.value.message


def test_unknown_environment_lists_the_known_ones() -> None:
    s = parse(
        {"app": {"name": "x", "run": "r"}, "environments": {"stage": {"port": 1}}}, root=Path(".")
    )
    with pytest.raises(NotFound, match=r"unknown environment 'qa' \(known: stage\)"):
        s.environment("qa")


@pytest.mark.parametrize(
    ("section", "where"),
    [
        (
            {"schedule": {"prerelease": "0 25 * * *"}},
            "schedule -> prerelease: cron '0 25 * * *': hour",
        ),
        ({"schedule": {"poll_interval": -1}}, "schedule -> poll_interval"),
        (
            {"webhooks": {"github_secret": "hunter2"}},
            "webhooks -> github_secret: a secret is a reference",
        ),
        (
            {"webhooks": {"repository": "not a repo"}},
            "webhooks -> repository: must be 'owner/name'",
        ),
        ({"webhooks": {"bogus": 1}}, "webhooks -> bogus: is not a known setting"),
        ({"server": {"apps": "../b/shipyard.toml"}}, "server -> apps: must be a list"),
        ({"server": {"apps": [1]}}, "server -> apps -> 0: must be a string"),
        ({"server": {"port": 1}}, "server -> port: is not a known setting"),
        ({"permissions": {"deploy": ["boss"]}}, "permissions -> deploy -> 0: 'boss' is not a role"),
        (
            {"permissions": {"admin": ["qa"]}},
            "permissions -> admin: is not an action one can grant",
        ),
        ({"permissions": {"deploy": []}}, "permissions -> deploy: name at least one role"),
        ({"permissions": {"deploy": "qa"}}, "permissions -> deploy: must be a list"),
    ],
)
def test_schedule_and_webhook_settings_are_checked(section: dict[str, object], where: str) -> None:
    data: dict[str, object] = {"app": {"name": "x", "run": "r"}, "environments": {"p": {"port": 1}}}
    data.update(section)
    with pytest.raises(ConfigError) as err:
        parse(data, root=Path("."))
    assert where in err.value.message


def test_schedule_and_webhook_defaults() -> None:
    s = parse(
        {
            "app": {"name": "x", "run": "r"},
            "environments": {"p": {"port": 1}},
            "webhooks": {"github_secret": {"env": "GH_SECRET"}, "required_checks": ["ci/test"]},
        },
        root=Path("."),
    )
    assert s.schedule.prerelease == "0 0 * * 1-5" and s.schedule.poll_interval == 30
    assert (
        s.webhooks.github_secret.env == "GH_SECRET"
        and s.webhooks.build_token.env == "SHIPYARD_BUILD_TOKEN"
    )
    assert s.webhooks.required_checks == ["ci/test"]


@pytest.mark.parametrize(
    ("app", "where"),
    [
        ({"ticket_sources": ["title", "subject"]}, "app -> ticket_sources -> 1: 'subject'"),
        ({"ticket_sources": ["body", "body"]}, "app -> ticket_sources -> 1: 'body': name each"),
        ({"ticket_sources": []}, "app -> ticket_sources: name at least one of title"),
        ({"ticket_sources": "title"}, "app -> ticket_sources"),
        ({"ticket_body": "sometimes"}, "app -> ticket_body: must be one of fallback, always"),
        ({"since": " "}, "app -> since: name a commit, tag or branch"),
        ({"since": 2024}, "app -> since"),
    ],
)
def test_ticket_settings_errors_name_the_field(app: dict[str, object], where: str) -> None:
    data = {"app": {"name": "x", "run": "r", **app}, "environments": {"p": {"port": 1}}}
    with pytest.raises(ConfigError) as err:
        parse(data, root=Path("."))
    assert where in err.value.message


@pytest.mark.parametrize(
    ("app", "sources"),
    [
        ({}, KeySources(True, True, "fallback")),
        ({"ticket_body": "always"}, KeySources(True, True, "always")),
        ({"ticket_sources": ["title", "branch"]}, KeySources(True, True, "never")),
        ({"ticket_sources": ["branch", "body"]}, KeySources(False, True, "fallback")),
    ],
)
def test_ticket_sources(app: dict[str, object], sources: KeySources) -> None:
    data = {"app": {"name": "x", "run": "r", **app}, "environments": {"p": {"port": 1}}}
    s = parse(data, root=Path("."))
    assert s.app.key_sources == sources
    assert s.app.since is None


def test_the_init_template_names_the_ticket_settings() -> None:
    text = render_template(
        name="monitor",
        run="python3 app.py",
        prefixes=["MNTOR"],
        checks={},
        ports={"stage": 8111, "dev": 8112, "prod": 8113},
    )
    assert "# ticket_sources = " in text and "# since = " in text and "# ticket_body = " in text


BASE = {"app": {"name": "x", "run": "r"}, "environments": {"stage": {"port": 1}}}


def test_checks_env_names_what_checks_may_see() -> None:
    s = parse({**BASE, "checks": {"unit": "make test", "env": ["NPM_TOKEN", "CI"]}}, root=Path("."))
    assert s.checks == {"unit": "make test"} and s.check_env == ["NPM_TOKEN", "CI"]
    assert parse(BASE, root=Path(".")).check_env == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (["NOT A NAME"], "checks -> env -> 0: 'NOT A NAME' is not an environment variable name"),
        (["SHIPYARD_BUILD_TOKEN"], "checks -> env -> 0: 'SHIPYARD_BUILD_TOKEN' is Shipyard's own"),
        (["OK", "GH_SECRET"], "checks -> env -> 1: 'GH_SECRET' holds a secret of Shipyard's"),
        ("PATH", "checks -> env: must be a list"),
    ],
)
def test_checks_env_refuses_bad_and_secret_names(env: object, message: str) -> None:
    data = {**BASE, "checks": {"env": env}, "webhooks": {"github_secret": {"env": "GH_SECRET"}}}
    with pytest.raises(ConfigError) as err:
        parse(data, root=Path("."))
    assert message in err.value.message
