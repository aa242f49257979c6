"""The runs: lists, the run page with live updates, retry, cancel, run now."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
