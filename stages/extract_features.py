"""extract_features: the frozen VGG16 convolution base run once over every prepared
image, batched in graph mode, as data/features/{train,val,test}.npy (float32, one row per
image), with a record of the weights that made them."""

import numpy as np

from mnist_transfer.pipeline import atomic, params, paths
from mnist_transfer.pipeline.errors import run_stage


def main() -> None:
    backbone = params.load("extract_features")["backbone"]
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer import datasets, determinism, models
    from mnist_transfer.sources import vgg16_weights

    determinism.make_deterministic()
    conv_base, weights = vgg16_weights.conv_base(backbone["weights"], backbone["input_size"])
    extractor = models.feature_extractor(conv_base)
    print(f"extract_features: VGG16 at {backbone['input_size']}px, weights {weights['name']} by {weights['route']}")
    with atomic.replacing(paths.FEATURES) as folder:
        folder.mkdir()
        for split in paths.SPLITS:
            images, _ = datasets.load(split, "images")
            print(f"{split}: {len(images)} images")
            # Keras feeds the model one batch at a time: only one batch is ever resized.
            features = extractor.predict(images, batch_size=backbone["batch_size"], verbose=1)
            np.save(folder / paths.features(split).name, features, allow_pickle=False)
        atomic.write_json(folder / paths.FEATURES_WEIGHTS.name, {**weights, "input_size": backbone["input_size"]})
    print(f"extract_features: features {features.shape[1:]} per image in {paths.FEATURES}")


if __name__ == "__main__":
    run_stage(main)
