"""The builder: a recipe's trigger and steps as forms, the catalog, the data-insert panel, the YAML tab."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
