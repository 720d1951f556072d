"""Same params, same machine: same bytes. Seeds for whatever is random, and TensorFlow's
deterministic kernels for everything (on a GPU, the default ones may differ run to run)."""

import keras
import tensorflow as tf


def make_deterministic(seed: int = 0) -> None:
    """`seed` drives every random draw; stages that draw nothing keep the default."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
