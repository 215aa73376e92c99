"""Markdown to Slack's mrkdwn, and cutting text to Slack's size limits.

Release notes are written in Markdown; Slack speaks its own dialect: ``*bold*``,
``_italic_``, ``~strike~``, ``<url|text>`` links, no headings and no list
syntax, and ``&``, ``<``, ``>`` must be escaped. ``from_markdown`` converts
what release notes use (headings, bullets, emphasis, links, code) and leaves
the rest as text::

    >>> from_markdown("## Fixes\\n- Fix **login** ([#12](https://x.test/12))")
    '*Fixes*\\n• Fix *login* (<https://x.test/12|#12>)'
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_TASK = re.compile(r"^\[([ xX])\]\s+")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HOLE = re.compile("\x01(\\d+)\x02")
_CLOSE_FENCE = "\n```"


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def from_markdown(markdown: str) -> str:
    """Convert Markdown release notes to mrkdwn, line by line."""
    out: list[str] = []
    in_code = False
    for line in markdown.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            out.append("```")
        elif in_code:
            out.append(escape(line))
        elif not line.strip():
            if out and out[-1]:
                out.append("")
        else:
            out.append(_block_line(line))
    return "\n".join(out).strip("\n")


def _block_line(line: str) -> str:
    if m := _HEADING.match(line):
        return f"*{_inline(m[1].replace('**', '').replace('__', '')).replace('*', '')}*"
    if _RULE.match(line):
        return "──────────"
    if m := _BULLET.match(line):
        depth = len(m[1].expandtabs(4)) // 2
        text = _TASK.sub(lambda t: "☑ " if t[1] != " " else "☐ ", m[2])
        return "    " * depth + ("•" if depth == 0 else "◦") + " " + _inline(text)
    if m := _QUOTE.match(line):
        return "> " + _inline(m[1])
    return _inline(line)


def _inline(text: str) -> str:
    parts = _CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):  # odd indexes are `code` spans: escape only
        parts[i] = _emphasis(parts[i])
    for i in range(1, len(parts), 2):
        parts[i] = escape(parts[i])
    return "".join(parts)


def _emphasis(text: str) -> str:
    links: list[str] = []

    def hole(m: re.Match[str]) -> str:
        links.append(f"<{escape(m[2])}|{escape(m[1])}>")
        return f"\x01{len(links) - 1}\x02"

    # Links first, set aside, so emphasis rules never touch URLs.
    text = escape(_LINK.sub(hole, text))
    text = _BOLD.sub(lambda m: "\x00" + (m[1] or m[2]) + "\x00", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = text.replace("\x00", "*")
    return _HOLE.sub(lambda m: links[int(m[1])], text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` if cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cut_lines(text: str, budget: int) -> tuple[str, int]:
    """The whole lines of ``text`` that fit in ``budget`` characters, and how many were left out."""
    if len(text) <= budget:
        return text, 0
    lines = text.split("\n")
    kept, size = 0, 0
    for line in lines:
        size += len(line) + 1
        if size > budget + 1:
            break
        kept += 1
    if kept == 0:  # one huge first line: keep its head
        return text[:budget], len(lines) - 1
    return "\n".join(lines[:kept]), len(lines) - kept


def split(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at line ends when possible.

    A code block cut in two is closed at the end of one piece and reopened at
    the start of the next, so each piece renders on its own.
    """
    width = limit - 2 * len(_CLOSE_FENCE)  # room to reopen and close a fence
    lines = [piece for line in text.split("\n") for piece in _wrap(line, width)]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    fenced = False
    for line in lines:
        add = len(line) + (1 if current else 0)
        if current and size + add + len(_CLOSE_FENCE) > limit:
            pieces.append("\n".join(current) + (_CLOSE_FENCE if fenced else ""))
            current, size = (["```"], 3) if fenced else ([], 0)
            add = len(line) + (1 if current else 0)
        current.append(line)
        size += add
        if _FENCE.match(line):
            fenced = not fenced
    if current:
        pieces.append("\n".join(current) + (_CLOSE_FENCE if fenced else ""))
    return [p for p in pieces if p.strip()]


def _wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    return [line[i : i + width] for i in range(0, len(line), width)]
