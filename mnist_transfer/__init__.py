"""The code the pipeline's stages share (`stages/` holds the stages themselves)."""

import os
import sys

# Set before anything imports Keras: the stages use TensorFlow itself (tf.data, op
# determinism), and TensorFlow's C++ info lines would bury our output.
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Progress reaches `dvc queue logs` and CI logs line by line, not when a buffer fills.
sys.stdout.reconfigure(line_buffering=True)
