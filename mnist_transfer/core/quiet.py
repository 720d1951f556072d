"""TensorFlow loaded without its C++ start-up lines, for the command-line tools, whose output
is their own: absl's and oneDNN's notices bypass TF_CPP_MIN_LOG_LEVEL, so stderr itself (file
descriptor 2) is closed to them while TensorFlow loads. The stages keep them, as DVC's logs do."""

import os
import sys


def load_tensorflow() -> None:
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
