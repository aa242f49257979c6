"""`data.set`: outputs its fields, rendered — to shape data for later steps."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from beffroi import ActionSpec


class SetInput(BaseModel):
    """Any fields; each value may be a template."""

    model_config = ConfigDict(extra="allow")


class SetOutput(BaseModel):
    """The fields given in `with`, rendered: later steps read them as `steps.<id>.<field>`."""

    model_config = ConfigDict(extra="allow")


def run(payload: SetInput, ctx) -> dict:
    """Return the rendered fields as the step's output."""
    return dict(payload.model_extra or {})


SPEC = ActionSpec(key="data.set", title="Set values", input_model=SetInput, output_model=SetOutput, run=run,
                  preview=run, side_effects=False,
                  description="Outputs the fields given in `with`, rendered, for later steps to use.")
