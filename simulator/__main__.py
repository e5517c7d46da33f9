"""``python -m simulator`` runs the ``wgmsim`` command line."""

import sys

from .cli import main

sys.exit(main())
