"""The pipeline's stages, one module each, and the modules they share."""

import os

# Set before anything imports Keras: the stages use TensorFlow itself (tf.data, op
# determinism), and TensorFlow's C++ info lines (oneDNN notices) would bury our output.
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
