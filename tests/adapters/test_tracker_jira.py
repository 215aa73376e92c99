"""The Jira tracker against a loopback Jira double whose traffic is checked against
Jira Cloud's REST v3 description (tests/adapters/jira_cloud/openapi_subset.json)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jira_cloud.double import FakeJira

from shipyard.adapters.tracker.jira import GONE, JiraTracker, StatusCache
from shipyard.adapters.tracker.jira_client import JiraClient, JiraError, Retry
from shipyard.config.schema import SecretRef
from shipyard.config.tracker import TrackerConfig
from shipyard.errors import NotFound

TOKEN = "s3cret-token"


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    issues = {f"MNTOR-{i}": "In QA" for i in range(1, 251)}
    issues.update({"MNTOR-7": "QA Verified", "MNTOR-8": "QA Failed", "MNTOR-9": "Blocked"})
    with FakeJira(issues, token=TOKEN, page=40) as fake:
        yield fake
        assert fake.violations == []


def client(jira: FakeJira, **kw: object) -> JiraClient:
    sleeps: list[float] = []
    c = JiraClient(
        jira.url,
        user="qa@example.com",
        token=TOKEN,
        retry=Retry(attempts=4, base=0.0, cap=5.0),
        sleep=sleeps.append,
        **kw,
    )  # type: ignore[arg-type]
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def tracker(jira: FakeJira, app: str = "web") -> JiraTracker:
    cfg = TrackerConfig(
        kind="jira",
        url=jira.url,
        user="qa@example.com",
        token=SecretRef("JIRA_TOKEN"),
        verified=["QA Verified", "Done"],
        rejected=["QA Failed"],
        on_merge="Start QA",
        on_promote="Released",
    )
    t = JiraTracker(1, app, cfg, client(jira))
    t.cache = StatusCache(30)
    return t


def test_statuses_are_read_100_keys_a_request_following_every_page(jira: FakeJira) -> None:
    c = client(jira)
    keys = [f"MNTOR-{i}" for i in range(1, 251)]
    got = c.statuses(keys)
    assert len(got) == 250 and got["MNTOR-7"] == "QA Verified"
    searches = jira.searches()
    # 3 batches of at most 100 keys; each batch of 100 takes 3 pages of 40.
    assert [len(s["jql"].split(",")) for s in searches if "nextPageToken" not in s] == [
        100,
        100,
        50,
    ]
    assert len(searches) == 3 + 3 + 2
    assert all(s["fields"] == ["status"] for s in searches)


def test_a_deleted_ticket_is_not_found_never_verified(jira: FakeJira) -> None:
    t = tracker(jira)
    raw = t.raw_statuses(None, ["MNTOR-7", "MNTOR-404", "MNTOR-1"])  # type: ignore[arg-type]
    assert raw == {"MNTOR-7": "verified", "MNTOR-404": GONE, "MNTOR-1": "unknown status: In QA"}


def test_unknown_statuses_are_reported_as_such(jira: FakeJira) -> None:
    t = tracker(jira)
    labels = t.statuses(None, ["MNTOR-7", "MNTOR-8", "MNTOR-9"])  # type: ignore[arg-type]
    assert labels == {
        "MNTOR-7": "verified (QA Verified)",
        "MNTOR-8": "rejected (QA Failed)",
        "MNTOR-9": "unknown status: Blocked",
    }


def test_statuses_are_cached(jira: FakeJira) -> None:
    t = tracker(jira)
    t.raw_statuses(None, ["MNTOR-1", "MNTOR-2"])  # type: ignore[arg-type]
    before = len(jira.requests)
    jira.issues["MNTOR-1"] = "QA Verified"
    assert t.raw_statuses(None, ["MNTOR-1"])["MNTOR-1"].startswith("unknown")  # type: ignore[arg-type]
    assert len(jira.requests) == before


def test_transitions_are_found_by_name_never_by_id(jira: FakeJira) -> None:
    c = client(jira)
    assert c.transition("MNTOR-1", ["QA Verified"]) == "Pass QA"  # by the status it leads to
    assert jira.issues["MNTOR-1"] == "QA Verified"
    assert c.transition("MNTOR-2", ["Fail QA"]) == "Fail QA"  # by its own name
    posted = [b for m, p, b in jira.requests if m == "POST" and p.endswith("/transitions")]
    assert posted == [{"transition": {"id": "12"}}, {"transition": {"id": "13"}}]
    with pytest.raises(JiraError, match="no Jira transition named 'Nope'"):
        c.transition("MNTOR-3", ["Nope"])
    with pytest.raises(NotFound, match="MNTOR-404: not found in Jira"):
        c.transition("MNTOR-404", ["Pass QA"])


def test_a_comment_is_atlassian_document_format_with_a_link_mark(jira: FakeJira) -> None:
    c = client(jira)
    c.comment("MNTOR-5", "Released in 2024.09.01.", link="https://shipyard.example/r/2024.09.01")
    [doc] = jira.comments["MNTOR-5"]
    text, _, link = doc["content"][0]["content"]
    assert text["text"] == "Released in 2024.09.01."
    assert link["marks"] == [{"type": "link", "attrs": {"href": link["text"]}}]
    with pytest.raises(NotFound):
        c.comment("MNTOR-404", "x")


def test_429_waits_for_retry_after(jira: FakeJira) -> None:
    c = client(jira)
    jira.faults = [(429, {"Retry-After": "2"}), (429, {"Retry-After": "1"})]
    assert c.statuses(["MNTOR-7"]) == {"MNTOR-7": "QA Verified"}
    assert c.sleeps == [2.0, 1.0]  # type: ignore[attr-defined]


def test_5xx_is_retried_then_reported_without_the_token(jira: FakeJira) -> None:
    c = client(jira)
    jira.faults = [(503, {})]
    assert c.statuses(["MNTOR-8"]) == {"MNTOR-8": "QA Failed"}
    jira.faults = [(500, {})] * 4
    with pytest.raises(JiraError, match="Jira answered 500") as err:
        c.statuses(["MNTOR-8"])
    assert TOKEN not in str(err.value) and TOKEN not in repr(c)


def test_bad_credentials_are_one_readable_error(jira: FakeJira) -> None:
    c = JiraClient(jira.url, user="qa@example.com", token="wrong", retry=Retry(attempts=1))
    with pytest.raises(JiraError, match="refused the credentials"):
        c.statuses(["MNTOR-1"])


def test_unreachable_jira_is_a_jira_error() -> None:
    c = JiraClient(
        "http://127.0.0.1:9", token="t", retry=Retry(attempts=2, base=0), sleep=lambda s: None
    )
    with pytest.raises(JiraError, match="cannot reach Jira"):
        c.statuses(["MNTOR-1"])


def test_server_and_data_center_send_the_token_as_a_bearer_pat() -> None:
    c = JiraClient("https://jira.example.com/", token="pat")
    assert c.api == "https://jira.example.com/rest/api/2"
    assert c._http.headers["Authorization"] == "Bearer pat"


def test_the_double_refuses_a_request_the_description_does_not_allow() -> None:
    import httpx

    with FakeJira({"MNTOR-1": "In QA"}, token=TOKEN) as fake:
        httpx.post(
            fake.url + "/rest/api/3/search/jql",
            json={"jql": "key in (MNTOR-1)", "startAt": 0},
            auth=("qa@example.com", TOKEN),
        )
        assert any("startAt" in v for v in fake.violations)
