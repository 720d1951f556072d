"""train_cnn: the Kaggle kernel's CNN on the prepared digits, self-trained on the digits
from elsewhere without their labels where `adapt` says so, saved as data/models/cnn.keras
(it takes raw uint8 digits), with its curves."""

from mnist_transfer.core import catalog, params, paths
from mnist_transfer.core.errors import run_stage


def main() -> None:
    p = params.load("train_cnn")
    precision = catalog.precision(p["cnn"]["precision"])
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer.core import cpu, determinism, splits
    from mnist_transfer.nets import adaptation, models, training

    adaptation.check_digits(p["adapt"])
    cpu.check_precision("cnn.precision", precision)
    determinism.make_deterministic(p["seed"])
    batch_size = p["cnn"]["batch_size"]
    teacher = adaptation.teacher_on_adapted(p["adapt"]["digits"]) if p["adapt"]["cotrain"] else None
    print(f"train_cnn: computing in {precision}")
    training.train(
        models.cnn(
            **{key: p["cnn"][key] for key in ("augment", "stroke", "blur", "stretch", "elastic", "stroke_reach")},
            precision=precision,
        ),
        splits.load("train", "images"),
        splits.load("val", "images"),
        training.Recipe(p["epochs"], batch_size, p["cnn"]["learning_rate"]),
        model_path=paths.MODELS["cnn"],
        curves=paths.CURVES["cnn"],
        then=lambda model: adaptation.adapt(model, p["adapt"], "images", batch_size, p["seed"], teacher=teacher),
    )


if __name__ == "__main__":
    run_stage(main)
