"""The base of every config model."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""An experiment name: one path component that cannot climb out of its parent folder."""


def _plain_name(value: object) -> object:
    # Before pydantic's own pattern check, so the message says what is allowed and why.
    if isinstance(value, str) and not EXPERIMENT_NAME.fullmatch(value):
        raise ValueError(
            f"not a plain experiment name: {value[:80]!r} (it names folders under "
            "FORECAST_HOME: use letters, digits, '.', '_' and '-', starting with a "
            "letter or digit; no '/' or spaces)"
        )
    return value


ExperimentName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=EXPERIMENT_NAME.pattern),
    BeforeValidator(_plain_name),
]
"""An MLflow experiment name that is also safe as a folder name."""


class Strict(BaseModel):
    """Base: unknown keys are errors and assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def repeated(values: list[str]) -> list[str]:
    """The values that occur more than once, in first-seen order (for error messages)."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value in seen and value not in out:
            out.append(value)
        seen.add(value)
    return out
