"""extract_features: the frozen VGG16 convolution base run once over every prepared image
(never over a split: the features belong to the images), batched in graph mode, as
data/features/{train,test}.npy (one row per image, in image order), with a record of the
weights that made them."""

import numpy as np

from mnist_transfer.pipeline import atomic, params, paths
from mnist_transfer.pipeline.errors import run_stage


def main() -> None:
    settings = params.load("extract_features")["backbone"]
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer import backbone, determinism, images
    from mnist_transfer.sources import vgg16_weights

    determinism.make_deterministic()
    conv_base, weights = vgg16_weights.conv_base(settings["weights"], settings["input_size"])
    extractor = backbone.feature_extractor(conv_base, settings["preprocess"])
    print(
        f"extract_features: VGG16 at {settings['input_size']}px, {settings['preprocess']} preprocessing, "
        f"weights {weights['name']} by {weights['route']}"
    )
    with atomic.replacing(paths.FEATURES) as folder:
        folder.mkdir()
        for part in images.PARTS:
            digits, _ = images.read(part)
            print(f"{part}: {len(digits)} images")
            # Keras feeds the model one batch at a time: only one batch is ever resized.
            features = extractor.predict(digits, batch_size=settings["batch_size"], verbose=1)
            np.save(folder / paths.features(part).name, features, allow_pickle=False)
        record = {**weights, "input_size": settings["input_size"], "preprocess": settings["preprocess"]}
        atomic.write_json(folder / paths.FEATURES_WEIGHTS.name, record)
    print(f"extract_features: features {features.shape[1:]} per image in {paths.FEATURES}")


if __name__ == "__main__":
    run_stage(main)
