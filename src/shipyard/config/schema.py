"""The small schema ``shipyard.toml`` is checked against: types, known keys, ranges.

Each helper raises ``Invalid`` with the path to the bad value; ``parse`` (in
``settings``) turns that into the ``ConfigError`` a user sees.
"""

# The file is validated by this small schema rather than by a validation
# library: every command reads it first, and building a library's schemas cost
# more start-up time than the rest of a quick command.

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple


class Invalid(ValueError):
    """A bad value at ``path`` (a tuple of keys)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


_MISSING: Any = object()


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        list: "a list",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_type(value: Any, kind: type | tuple[type, ...], path: tuple[str | int, ...]) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise Invalid(path, f"must be {_type_name(kind)}")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kinds):
        raise Invalid(path, f"must be {_type_name(kind)}")
    return value


def _table(data: Any, path: tuple[str | int, ...]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(path, "must be a table")
    return data


def _fields(
    data: Any, path: tuple[str | int, ...], spec: Mapping[str, tuple[Any, Any]]
) -> dict[str, Any]:
    """Check keys against ``spec`` ({key: (type, default)}); unknown or missing keys are errors."""
    table = _table(data, path)
    for key in table:
        if key not in spec:
            raise Invalid((*path, key), "is not a known setting")
    out: dict[str, Any] = {}
    for key, (kind, default) in spec.items():
        if key not in table:
            if default is _MISSING:
                raise Invalid((*path, key), "is required")
            out[key] = default() if callable(default) else default
            continue
        out[key] = _check_type(table[key], kind, (*path, key))
    return out


def _str_list(
    value: list[Any], path: tuple[str | int, ...], pattern: re.Pattern[str] | None = None
) -> list[str]:
    for i, item in enumerate(value):
        _check_type(item, str, (*path, i))
        if pattern is not None and not pattern.match(item):
            raise Invalid((*path, i), f"{item!r} does not match {pattern.pattern}")
    return list(value)


def _str_map(value: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, str]:
    for k, v in value.items():
        _check_type(v, str, (*path, k))
    return dict(value)


def _regex(value: str | None, path: tuple[str | int, ...]) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise Invalid(path, f"not a valid regular expression ({exc})") from None
    return value


def _between(
    value: float, low: float, high: float, path: tuple[str | int, ...], *, open_low: bool = False
) -> None:
    if value < low or value > high or (open_low and value == low):
        least = "above" if open_low else "at least"
        raise Invalid(path, f"must be {least} {_number(low)} and at most {_number(high)}")


def _number(x: float) -> str:
    """``1000000``, ``0.5``: as written in a config, never ``1e+06``."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


class SecretRef(NamedTuple):
    """A secret named by reference (``{ env = "NAME" }``), never written in the file."""

    env: str


def _secret_ref(value: Any, path: tuple[str | int, ...]) -> SecretRef:
    if not isinstance(value, dict):
        raise Invalid(
            path, 'a secret is a reference such as { env = "NAME" }, never the value itself'
        )
    return SecretRef(**_fields(value, path, {"env": (str, _MISSING)}))
