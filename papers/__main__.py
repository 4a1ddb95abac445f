"""`python -m papers --help`: the suite's command line (see common/harness/cli.py)."""
import contextlib
import os
import sys
import tempfile

# TensorFlow's start-up chatter, for the commands that import it; set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import absl.logging

absl.logging.set_verbosity(absl.logging.ERROR)

import papers
from common.harness.cli import SUITE_COMMANDS, main

# What TensorFlow's C++ runtime prints when it starts, past every setting: harmless (README).
TF_NOTICES = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ")


@contextlib.contextmanager
def tensorflow_notices_held_back():
    """Hold back TensorFlow's start-up notices (they come from C++, on file descriptor 2), so that a user's
    mistake found after the import is still the one line on stderr; anything else it printed is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not line.startswith(TF_NOTICES)))


if sys.argv[1:2] and sys.argv[1] in (*papers.PAPERS, *SUITE_COMMANDS):  # every command but --help imports Keras
    with tensorflow_notices_held_back():
        import keras  # noqa: F401
sys.exit(main(sys.argv[1:], papers))
