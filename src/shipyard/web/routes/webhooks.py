"""Webhooks in: GitHub and a generic "build finished" hook."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
