"""Set one scalar in a YAML document and leave every other byte of it as it was.

ruamel.yaml parses the document and tells where the value sits (line and column);
the value's token is then replaced in the text itself, so comments, indentation,
quoting and key order elsewhere never change. A key that does not exist yet is
inserted as a new line beside a sibling of the same mapping; only where there is
no such sibling (a new mapping, a flow mapping like ``{}``) does ruamel.yaml write
the document back, in round-trip mode, which keeps comments.

Example::

    set_value("image:\\n  tag: old  # CI\\n", ("image", "tag"), "abc1234")
    # 'image:\\n  tag: abc1234  # CI\\n'
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from shipyard.errors import DeployFailed

Path = Sequence[str | int]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9._/:@+-]*$")
# Words YAML 1.1 readers (kubectl, helm) take for booleans or null.
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold a long line when the document has to be written back
    return y


def load(text: str, where: str) -> Any:
    """The document in ``text`` (round-trip types); ``DeployFailed`` naming ``where`` if broken."""
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeployFailed(f"{where} is not valid YAML: {first}") from None


def get(doc: Any, path: Path) -> Any:
    """The value at ``path``, or None when any part of it is missing."""
    node = doc
    for part in path:
        in_map = isinstance(node, CommentedMap) and isinstance(part, str) and part in node
        in_seq = isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node)
        if not (in_map or in_seq):
            return None
        node = node[part]
    return node


def render(value: str, quote: str = "") -> str:
    """``value`` as a YAML scalar: plain when every reader takes it for a string."""
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    if quote == '"' or not _PLAIN.match(value) or value.lower() in _SPECIAL or value[-1] == ":":
        return json.dumps(value)
    return value


def set_value(text: str, path: Path, value: str, *, where: str = "the file") -> str:
    """``text`` with the scalar at ``path`` (keys and list indexes) set to ``value``."""
    doc = load(text, where)
    if doc is None:
        doc = CommentedMap()
    parent = get(doc, path[:-1])
    key = path[-1]
    if isinstance(parent, CommentedMap) and isinstance(key, str):
        edit = _splice if key in parent else _insert
        spliced = edit(text, parent, key, value)
        if spliced is None and not parent and len(path) > 1:
            spliced = _fill_empty(text, get(doc, path[:-2]), path[-2], key, value)
        if spliced is not None:
            return spliced
    elif parent is None and isinstance(doc, CommentedMap) and all(isinstance(k, str) for k in path):
        spliced = _append(text, doc, [str(k) for k in path], value)
        if spliced is not None:
            return spliced
    _assign(doc, path, value)
    return _dump(doc)


def delete_key(text: str, path: Path, *, where: str = "the file") -> str:
    """``text`` without the key at ``path``; unchanged when it is not there."""
    doc = load(text, where)
    parent = get(doc, path[:-1])
    key = path[-1]
    if not isinstance(parent, CommentedMap) or key not in parent:
        return text
    line, _ = parent.lc.key(key)
    vline, _ = parent.lc.value(key)
    lines = text.splitlines(keepends=True)
    if vline == line and not isinstance(parent[key], CommentedMap | CommentedSeq):
        return "".join(lines[:line] + lines[line + 1 :])
    del parent[key]
    return _dump(doc)


def append_list_entry(
    text: str, key: str, entry: dict[str, str], *, where: str = "the file"
) -> str:
    """``text`` with a new top-level ``key:`` holding a list of one mapping, ``entry``."""
    if get(load(text, where), [key]) is not None:
        raise DeployFailed(f"{where} already has {key!r}")
    items = [
        f"{'  - ' if i == 0 else '    '}{render(k)}: {render(v)}"
        for i, (k, v) in enumerate(entry.items())
    ]
    sep = "" if not text or text.endswith("\n") else "\n"
    return text + sep + f"{render(key)}:\n" + "\n".join(items) + "\n"


def _splice(text: str, parent: CommentedMap, key: str, value: str) -> str | None:
    """Replace the value token in place, or None when it is not a one-line scalar."""
    current = parent[key]
    if isinstance(current, CommentedMap | CommentedSeq):
        return None
    line, col = parent.lc.value(key)
    lines = text.splitlines(keepends=True)
    if line >= len(lines):
        return None
    row = lines[line]
    end = _token_end(row, col)
    if end is None:
        return None
    quote = row[col] if row[col] in "'\"" else ""
    lines[line] = row[:col] + render(value, quote) + row[end:]
    return "".join(lines)


def _token_end(row: str, col: int) -> int | None:
    """Where the scalar starting at ``col`` ends on ``row``; None if it is not a simple one."""
    if col >= len(row) or row[col] in "|>!&*[{":
        return None
    if row[col] == '"':
        m = re.compile(r'"(?:[^"\\]|\\.)*"').match(row, col)
        return m.end() if m else None
    if row[col] == "'":
        m = re.compile(r"'(?:[^']|'')*'").match(row, col)
        return m.end() if m else None
    rest = row[col:].rstrip("\r\n")
    comment = re.search(r"\s+#", rest)
    token = rest[: comment.start()] if comment else rest.rstrip()
    return col + len(token)


def _insert(text: str, parent: CommentedMap, key: str, value: str) -> str | None:
    """Add ``key: value`` as a new line after a one-line scalar sibling, if there is one."""
    lines = text.splitlines(keepends=True)
    for sibling in reversed(list(parent)):
        current = parent[sibling]
        if isinstance(current, CommentedMap | CommentedSeq):
            continue
        kline, kcol = parent.lc.key(sibling)
        vline, vcol = parent.lc.value(sibling)
        if kline != vline or kline >= len(lines):
            continue
        if _token_end(lines[kline], vcol) is None:
            continue
        newline = "\r\n" if lines[kline].endswith("\r\n") else "\n"
        if not lines[kline].endswith(("\n", "\r")):
            lines[kline] += newline
        entry = f"{' ' * kcol}{render(key)}: {render(value)}{newline}"
        return "".join([*lines[: kline + 1], entry, *lines[kline + 1 :]])
    return None


def _fill_empty(text: str, owner: Any, name: str | int, key: str, value: str) -> str | None:
    """Write ``key: value`` into an empty flow mapping (``name: {}``) as a block."""
    if not isinstance(owner, CommentedMap) or not isinstance(name, str) or name not in owner:
        return None
    kline, kcol = owner.lc.key(name)
    vline, vcol = owner.lc.value(name)
    lines = text.splitlines(keepends=True)
    if kline != vline or not lines[vline][vcol:].startswith("{}"):
        return None
    row = lines[vline]
    newline = "\r\n" if row.endswith("\r\n") else "\n"
    head = row[:vcol].rstrip() + row[vcol + 2 :].rstrip("\r\n") + newline
    entry = f"{' ' * (kcol + 2)}{render(key)}: {render(value)}{newline}"
    return "".join([*lines[:vline], head, entry, *lines[vline + 1 :]])


def _append(text: str, doc: CommentedMap, path: list[str], value: str) -> str | None:
    """Add the missing mappings of ``path`` and its value at the end of a block document."""
    depth = 0
    node: Any = doc
    while depth < len(path) - 1 and isinstance(node, CommentedMap) and path[depth] in node:
        node = node[path[depth]]
        depth += 1
    if depth > 0 or node.fa.flow_style():
        return None  # only whole new top-level mappings are appended
    lines = [f"{'  ' * i}{render(part)}:" for i, part in enumerate(path[:-1])]
    lines.append(f"{'  ' * (len(path) - 1)}{render(path[-1])}: {render(value)}")
    sep = "" if not text or text.endswith("\n") else "\n"
    return text + sep + "\n".join(lines) + "\n"


def _assign(doc: Any, path: Path, value: str) -> None:
    node = doc
    for part, following in itertools.pairwise(path):
        child = get(node, [part])
        if child is None:
            child = CommentedSeq() if isinstance(following, int) else CommentedMap()
            _put(node, part, child)
        node = child
    _put(node, path[-1], value)


def _put(node: Any, part: str | int, value: Any) -> None:
    if isinstance(node, CommentedMap) and isinstance(part, str):
        node[part] = value
    elif isinstance(node, CommentedSeq) and isinstance(part, int) and part <= len(node):
        if part == len(node):
            node.append(value)
        else:
            node[part] = value
    else:
        raise DeployFailed(f"cannot set {part!r}: the document has another shape there")


def _dump(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()
