"""`python -m lstmviz` runs the command line entry point."""

import sys

from lstmviz.cli import main

sys.exit(main())
