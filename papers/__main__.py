"""`python -m papers --help`: the suite's command line (see common/cli.py)."""
import os
import sys

# TensorFlow's start-up chatter, for the commands that import it; set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import papers
from common.cli import main

sys.exit(main(sys.argv[1:], papers))
