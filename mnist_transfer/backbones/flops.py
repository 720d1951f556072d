"""The compute of one image through a Keras model up to a named layer: 2 x the multiply-adds of its convolution
and dense layers, counted from their built output and kernel shapes (the rest is small next to them)."""

import math

import keras


def gflop_per_image(model: keras.Model, up_to: str) -> float:
    """GFLOP of one image from `model`'s input to the output of layer `up_to` (needs a fixed input size)."""
    # Only the layers that layer depends on: a side branch past it costs nothing here.
    path = keras.Model(model.input, model.get_layer(up_to).output)
    return 2 * sum(multiply_adds(layer) for layer in path.layers) / 1e9


def multiply_adds(layer: keras.layers.Layer) -> int:
    """Multiply-adds of one image through `layer`: each output position applies every kernel weight once."""
    if isinstance(layer, keras.layers.SeparableConv2D):
        kernels = (layer.depthwise_kernel, layer.pointwise_kernel)
    elif isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense):
        kernels = (layer.kernel,)
    else:
        return 0
    positions = math.prod(layer.output.shape[1:-1])
    return positions * sum(math.prod(kernel.shape) for kernel in kernels)
