"""`python -m backend.cli` runs the same `csvdrop` command line."""

import sys

from backend.cli import main

sys.exit(main())
