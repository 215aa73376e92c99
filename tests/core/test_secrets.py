from __future__ import annotations

import json
from pathlib import Path

from shipyard.config import parse
from shipyard.core.secrets import Scrubber
from shipyard.services.secrets import secret_values


def test_a_secret_is_scrubbed_in_every_form_it_is_written_in() -> None:
    secret = 'p&ss"w/rd<x>'
    s = Scrubber([secret, "short"])
    assert s.text(f"a {secret} b") == "a [secret] b"
    assert secret not in s.text(json.dumps({"k": secret}))
    assert s.bytes(b"x p&amp;ss&quot;w/rd&lt;x&gt; y") == b"x [secret] y"
    assert s.text("p%26ss%22w%2Frd%3Cx%3E") == "[secret]"
    assert s.text("short words stay") == "short words stay"  # too short to be a secret
    assert s.data({"k": [secret, 1, (secret,)]}) == {"k": ["[secret]", 1, ("[secret]",)]}
    assert not Scrubber() and Scrubber().text(secret) == secret


def test_the_secret_values_of_a_config() -> None:
    settings = parse(
        {
            "app": {"name": "x", "run": "r"},
            "environments": {"s": {"port": 1}},
            "state": {"database_url": "postgresql://u:db%40pass@h/db"},
            "notify": [
                {"type": "slack", "url": {"env": "SLACK"}},
                {
                    "type": "webhook",
                    "url": "https://h/x",
                    "headers": {"Authorization": "Bearer t0k"},
                },
            ],
        },
        root=Path("."),
    )
    env = {"SHIPYARD_GITHUB_SECRET": "gh", "SLACK": "https://hooks/s", "OTHER": "o"}
    assert secret_values(settings, env) == {
        "gh",
        "db@pass",
        "https://hooks/s",
        "https://h/x",
        "Bearer t0k",
    }
