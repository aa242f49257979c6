"""Test and preview: the trigger's sample, a dry run of the recipe, one step alone."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
