"""``settle_heap``: what a server built before it answers is out of the cyclic collector's
sight (still freed by reference counting), and the collector runs less often."""

from __future__ import annotations

import gc
import weakref

from shipyard.web.serving import YOUNG_OBJECTS, settle_heap


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


def test_what_was_built_is_frozen_and_still_freed_when_dropped() -> None:
    threshold = gc.get_threshold()
    built = [Node() for _ in range(1000)]
    try:
        settle_heap()
        tracked = {id(o) for o in gc.get_objects()}
        assert not any(id(n) in tracked for n in built)  # a full collection skips them
        assert gc.get_freeze_count() >= len(built)
        assert gc.get_threshold() == (YOUNG_OBJECTS, *threshold[1:])
        gone = weakref.ref(built[0])
        built.clear()  # no cycle: reference counting frees them, frozen or not
        assert gone() is None
        young = Node()
        assert any(o is young for o in gc.get_objects())  # what comes later is collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
