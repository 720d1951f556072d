"""The one FLOP counter of the project (the catalog, the study and the benchmarks use it).

Convention: 2 FLOPs per multiply-add of the convolution, depthwise, separable and dense
layers, every output position counted, padding included, as published figures count them
(VGG16 at 224 px: 15.5 G multiply-adds); the rest (pools, activations, batch norm) is small
next to them and not counted."""

import math

import keras


def gflop_per_image(model: keras.Model, up_to: str) -> float:
    """GFLOP of one image from `model`'s input to the output of layer `up_to` (needs a fixed input size)."""
    # Only the layers that layer depends on: a side branch past it costs nothing here.
    path = keras.Model(model.input, model.get_layer(up_to).output)
    return sum(flops(layer) for layer in path.layers) / 1e9


def flops(layer: keras.layers.Layer) -> int:
    """FLOPs of one image through `layer`: each output position applies every kernel weight once."""
    if isinstance(layer, keras.layers.SeparableConv2D):
        kernels = (layer.depthwise_kernel, layer.pointwise_kernel)
    elif isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense):
        kernels = (layer.kernel,)
    else:
        return 0
    positions = math.prod(layer.output.shape[1:-1])
    return 2 * positions * sum(math.prod(kernel.shape) for kernel in kernels)
