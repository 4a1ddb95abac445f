"""`python -m papers --help`: the suite's command line (see common/cli.py)."""
import sys

import papers
from common.cli import main

sys.exit(main(sys.argv[1:], papers))
