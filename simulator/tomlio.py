"""Reading TOML (``tomllib``) and writing the small subset wgmsim needs, by hand.

Written floats use ``repr``, the shortest text that reads back to the same double, so a file
written here reads back bit for bit. Complex numbers are written ``[re, im]``; ``None`` has no
TOML spelling, so keys whose value is ``None`` are left out (every such option defaults to
``None``).
"""

from __future__ import annotations

import io
import json
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

__all__ = ["read_toml", "toml_value", "toml_table"]


def read_toml(path: str | Path, error: type[Exception] = ValueError) -> dict[str, Any]:
    """The parsed file; a missing or malformed file raises ``error`` naming the path."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read()
        # a UTF-8 byte-order mark (written by some editors) is not TOML: skip it
        return tomllib.load(io.BytesIO(data.removeprefix(b"\xef\xbb\xbf")))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None


def toml_value(value: Any) -> str:
    """One TOML value: bool, int, float (exact), complex as ``[re, im]``, str, or an array."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, complex):
        return f"[{toml_value(value.real)}, {toml_value(value.imag)}]"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string for these characters
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if hasattr(value, "item"):  # numpy scalar
        return toml_value(value.item())
    raise TypeError(f"no TOML spelling for {value!r} ({type(value).__name__})")


def toml_table(name: str, values: Mapping[str, Any]) -> str:
    """``[name]`` followed by ``key = value`` lines (``None`` values left out)."""
    lines = [f"[{name}]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"
