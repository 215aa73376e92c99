"""Shipyard runs a web team's release train.

Every merge on ``main`` is built once and follows ``stage``; a dated pre-release
is cut every weekday; QA signs tickets off; a 1-click deploy promotes a release
to production only through its gates. See ``docs/architecture.md``.
"""

__version__ = "0.1.0"
