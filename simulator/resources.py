"""Memory available to a run: the one reading every engine's up-front resource check uses.

At the bottom of the package (imports nothing from it), so that the SDE and master-equation
engines, which may not import each other, share it.
"""

from __future__ import annotations

import os

__all__ = ["available_memory", "MEMORY_FRACTION"]

#: Fraction of the available memory a run may plan to use.
MEMORY_FRACTION = 0.5


def available_memory() -> int:
    """Bytes of memory available to a new run (``MemAvailable`` from ``/proc/meminfo``, else
    ``os.sysconf`` free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**62
