"""``python -m simulator`` runs the ``wgmsim`` command line."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load
    sys.stderr.write("wgmsim: interrupted\n")
    sys.exit(130)

sys.exit(main())
