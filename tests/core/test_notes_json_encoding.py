"""``render_json`` writes exactly what ``json.dumps(indent=2, ensure_ascii=False)``
would, through orjson, and through the standard library where orjson refuses."""

from __future__ import annotations

import json

import pytest

from shipyard.core.changes import Change
from shipyard.core.notes import build_notes, dumps_indented, render_json


def _change(title: str, n: int, *, tickets: tuple[str, ...] = ()) -> Change:
    return Change(
        f"{n:040x}", title, "Zoë", "zoe@example.com", n, "squash", tickets, None, False, False,
        1_725_000_000 + n, ("type: bug",) if n % 2 else (), None,
    )  # fmt: skip


TITLES = [
    "Add login",
    'Quote " and back\\slash',
    "Tab\tnew\nline\rcarriage\x00nul\x1f unit \x7f del",
    "Unicode ✓ é 😀 \u2028 \u2029 \ufeff",
    "",
]


def _stdlib(notes_text: str) -> str:
    return json.dumps(json.loads(notes_text), indent=2, ensure_ascii=False) + "\n"


def test_same_text_as_the_standard_library() -> None:
    changes = [_change(t, n, tickets=("MNTOR-1",) if n else ()) for n, t in enumerate(TITLES)]
    text = render_json(build_notes(changes), title="Notes ✓", range_label="a..b")
    assert text == _stdlib(text)
    assert '"labels": []' in text and '"tickets": [\n' in text  # empty and filled arrays
    empty = render_json(build_notes([]), title="T", range_label="r")
    assert empty == _stdlib(empty) and '"sections": []' in empty


@pytest.mark.parametrize("value", ["lone \ud800 surrogate", 2**70])
def test_what_orjson_refuses_goes_the_standard_library_way(value: object) -> None:
    doc = {"title": value, "list": [1, "é"]}
    assert dumps_indented(doc) == json.dumps(doc, indent=2, ensure_ascii=False)
