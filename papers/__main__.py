"""`python -m papers --help`: the suite's command line (see common/harness/cli.py)."""
import os
import sys

# TensorFlow's start-up chatter, for the commands that import it; set before anything imports it. Its C++
# runtime still prints a few notices (oneDNN, absl::InitializeLog, use_unbounded_threadpool) that no setting
# reaches: the README says they are harmless.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import absl.logging

absl.logging.set_verbosity(absl.logging.ERROR)

import papers
from common.harness.cli import main

sys.exit(main(sys.argv[1:], papers))
