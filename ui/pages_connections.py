"""The connections: list by tool type, forms from each type's schema, test."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
