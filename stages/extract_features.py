"""extract_features: the frozen VGG16 convolution base, up to `backbone.layer`, run once
over every prepared image (never over a split: the features belong to the images), batch
by batch, written to data/features/{train,test}.npy as it goes (one row per image, in
image order), with a record of the weights and layer that made them, and the frozen
extractor itself (data/features/extractor.keras), stored here once for every head."""

from mnist_transfer.pipeline import atomic, params, paths
from mnist_transfer.pipeline.errors import run_stage

# What the features' record says of how they were made, beside the weights.
RECORDED = ("layer", "input_size", "preprocess", "precision", "feature_dtype")


def main() -> None:
    settings = params.load("extract_features")["backbone"]
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer import backbone, determinism, images, model_files
    from mnist_transfer.sources import vgg16_weights

    backbone.check_precision(settings["precision"])
    determinism.make_deterministic()
    conv_base, weights = vgg16_weights.conv_base(settings["weights"], settings["input_size"])
    extractor = backbone.feature_extractor(conv_base, settings["preprocess"], settings["layer"], settings["precision"])
    print(
        f"extract_features: VGG16 at {settings['input_size']}px up to {settings['layer']} in {settings['precision']}, "
        f"{settings['preprocess']} preprocessing, weights {weights['name']} by {weights['route']}"
    )
    with atomic.replacing(paths.FEATURES) as folder:
        folder.mkdir()
        for part in images.PARTS:
            digits, _ = images.read(part)
            print(f"{part}: {len(digits)} images")
            shape = backbone.extract(
                extractor, digits, settings["batch_size"], folder / paths.features(part).name, settings["feature_dtype"]
            )
        record = {**weights, **{key: settings[key] for key in RECORDED}}
        atomic.write_json(folder / paths.FEATURES_WEIGHTS.name, record)
        model_files.save(extractor, folder / paths.EXTRACTOR.name)
    print(f"extract_features: {shape} features per image ({settings['feature_dtype']}) in {paths.FEATURES}")


if __name__ == "__main__":
    run_stage(main)
