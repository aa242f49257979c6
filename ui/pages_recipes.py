"""The recipes pages: list, search, new, duplicate, delete, versions."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
