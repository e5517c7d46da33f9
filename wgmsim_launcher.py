"""Entry point of the ``wgmsim`` console script.

A module outside the ``simulator`` package, so that Ctrl-C while the package and its libraries
load (about half a second) ends in one line and status 130, not in a traceback from the
import: any module inside the package runs ``simulator/__init__`` (numpy, scipy) first.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    """Import the command line, then run it; returns the exit status."""
    try:
        from simulator.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("wgmsim: interrupted\n")
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
