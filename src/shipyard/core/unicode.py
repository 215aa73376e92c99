"""Text a client sends that is not valid Unicode, found before it reaches a database."""

from __future__ import annotations

import json
import re

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def lone_surrogate(body: bytes) -> bool:
    """Whether a JSON body decodes to a string no database can store (``"\\ud800"``).

    >>> lone_surrogate(b'{"a": "\\\\ud800"}'), lone_surrogate(b'{"a": "\\\\ud83d\\\\ude00"}')
    (True, False)
    """
    if not _SURROGATE_ESCAPE.search(body):
        return False  # the cheap test first: almost every body stops here
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except ValueError:
        return False  # not JSON: the reader's own parsing says so
    return False
