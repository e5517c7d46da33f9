"""Input checks shared by parameters and engine options: the error names the field, the value
and what is allowed."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["check_real", "check_integer"]


def check_real(name: str, value: Any, *, low: float | None = None, strict: bool = False,
               error: type[Exception] = ValueError) -> float:
    """A finite real number, optionally ``> low`` (``strict``) or ``>= low``; else ``error``."""
    allowed = "a finite real number"
    if low is not None:
        allowed += f" {'>' if strict else '>='} {low:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} = {value!r} ({type(value).__name__}): must be {allowed}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None and not bad:
        bad = value <= low if strict else value < low
    if bad:
        raise error(f"{name} = {value!r}: must be {allowed}")
    return value


def check_integer(name: str, value: Any, *, low: int, error: type[Exception] = ValueError) -> int:
    """An integer ``>= low`` (``bool`` refused); else ``error``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise error(f"{name} = {value!r}: must be an integer >= {low}")
    return int(value)
