"""`python -m papers --help`: the suite's command line (see common/cli.py)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, for the commands that import it

import papers  # noqa: E402  (after the environment variable, which TensorFlow reads on import)
from common.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:], papers))
