"""Adapting to the digits from elsewhere without their labels (`adapt`): first, with
`adapt.infomax`, information maximisation (SHOT's objective: each prediction sure, the
predictions diverse) with the output layer held; then self-training, each round a model taking
the unlabelled digits it is surest of in each class and training on them mixed with MNIST's."""

import keras
import numpy as np

from mnist_transfer.core import catalog, images, model_files, paths, splits
from mnist_transfer.core.errors import InputError
from mnist_transfer.nets import models, training

SHARE_STEP = 0.3  # round k takes, of each predicted class, the surest min(1, 0.3 k) x n / 10
# Fewer digits to adapt on than this, and the first round takes three or fewer of each class.
ADAPT_MIN_DIGITS = 100
COPIES = 5  # each pseudo-labelled digit seen this many times a round: they are few beside MNIST's
MNIST_PER_ROUND = 10_000  # MNIST's training digits mixed into each round, drawn anew
LEARNING_RATE = 0.0005  # half the kernel's: the model moves, but from where MNIST left it
# Information maximisation (Liang et al., 2020, "Do we really need to access the source data?"):
# passes over the digits adapted on, at a fifth of self-training's rate, since nothing labelled
# anchors these steps; the output layer held, so that the features move to fit the classes
# MNIST taught and not the classes to fit the features.
INFOMAX_EPOCHS = 10
INFOMAX_LEARNING_RATE = LEARNING_RATE / 5
PROBABILITY_FLOOR = 1e-6  # log(0) guarded
STATISTICS_CHUNK = 4096  # rows of features read at a time while their statistics are summed
# Added to every channel's variance, as a share of MNIST's mean channel variance: a channel
# all but silent on the digits adapted on would otherwise be scaled up without bound on
# those where it fires.
VARIANCE_FLOOR = 1e-3


def check_digits(settings: dict) -> None:
    """Before any training: that the digits from elsewhere allow what `settings` (params'
    `adapt`) ask, so that a stage refuses in one line and not after MNIST's epochs."""
    if settings["digits"] == catalog.ADAPT_ON[0]:
        return
    with np.load(paths.RAW_ELSEWHERE) as framed:
        count, labelled = len(framed["x"]), len(framed["y"]) > 0
    if count and settings["digits"] == "first_half" and not labelled:
        raise InputError(
            "params.yaml: adapt.digits first_half cuts the digits from elsewhere into halves by their labels, "
            "and these have none; use adapt.digits all (adapt on every one)"
        )
    adapted_on = count // 2 if settings["digits"] == "first_half" else count
    if 0 < adapted_on < ADAPT_MIN_DIGITS:
        raise InputError(
            f"params.yaml: adapt.digits {settings['digits']} adapts on {adapted_on} digits from elsewhere, under the "
            f"{ADAPT_MIN_DIGITS} self-training needs (each round takes a share of each class); "
            "add digits, or set adapt.digits: none"
        )


def adapted_rows(digits: str, labels: np.ndarray, count: int) -> np.ndarray:
    """Which of the `count` digits from elsewhere a model adapts on (`adapt.digits`): all, or
    the first half; their labels only cut the halves, as the protocol fixed them."""
    return np.arange(count) if digits == "all" else splits.halves(labels)[0]


def unlabelled(digits: str, inputs: str) -> np.ndarray:
    """The digits from elsewhere a model adapts on (`adapt.digits`), as `inputs` ("images" or
    "features")."""
    x, labels = splits.load("elsewhere", inputs)
    return x[adapted_rows(digits, labels, len(x))]


def teacher_on_adapted(digits: str) -> np.ndarray:
    """The adapted head's probabilities (train_head's `HEAD_ON_ELSEWHERE`) on the digits the
    CNN adapts on, in their order."""
    probabilities = np.load(paths.HEAD_ON_ELSEWHERE)
    return probabilities[adapted_rows(digits, images.labels("elsewhere"), len(probabilities))]


def channel_statistics(features: training.Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's (the last axis') mean and variance over every row and position of
    `features`, summed in float64 a chunk of rows at a time."""
    total, squares, count = 0.0, 0.0, 0
    for start in range(0, len(features), STATISTICS_CHUNK):
        rows = np.arange(start, min(start + STATISTICS_CHUNK, len(features)))
        chunk = np.asarray(features[rows], np.float64).reshape(-1, features.shape[-1])
        total, squares, count = total + chunk.sum(axis=0), squares + (chunk**2).sum(axis=0), count + len(chunk)
    mean = total / count
    return mean, np.maximum(squares / count - mean**2, 0.0)


def statistics_for_elsewhere(settings: dict, train_features: training.Inputs) -> dict[str, np.ndarray]:
    """What the head reads the digits from elsewhere's features with (model_files.restandardizing):
    with adapt.normalize, their channel statistics on the digits it adapts on and MNIST's
    training features'; otherwise, or without digits from elsewhere, the identity's."""
    channels = train_features.shape[-1]
    identity = {"mean": np.zeros(channels), "variance": np.ones(channels)}
    foreign = unlabelled(settings["digits"], "features") if settings["normalize"] else np.zeros(0)
    if len(foreign) == 0:
        statistics = {**identity, "mnist_mean": identity["mean"], "mnist_variance": identity["variance"]}
    else:
        (mean, variance), (mnist_mean, mnist_variance) = map(channel_statistics, (foreign, train_features))
        floor = VARIANCE_FLOOR * mnist_variance.mean()
        statistics = {
            "mean": mean,
            "variance": variance + floor,
            "mnist_mean": mnist_mean,
            "mnist_variance": mnist_variance + floor,
        }
    return {name: values.astype("float32") for name, values in statistics.items()}


def surest(probabilities: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices and predicted labels of the `share` x n / 10 surest digits of each predicted
    class (fewer where fewer are predicted so), so that no class crowds out the others."""
    predicted, sureness = probabilities.argmax(axis=1), probabilities.max(axis=1)
    per_class = round(share * len(probabilities) / 10)
    chosen = []
    for digit in range(probabilities.shape[1]):
        these = np.flatnonzero(predicted == digit)
        chosen.append(these[np.argsort(-sureness[these], kind="stable")][:per_class])
    chosen = np.sort(np.concatenate(chosen))
    return chosen, predicted[chosen]


def surest_agreeing(probabilities: np.ndarray, teacher: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """`surest` by the mean of the two models' probabilities, among the digits on which the two
    predict the same class only."""
    agree = np.flatnonzero(probabilities.argmax(axis=1) == teacher.argmax(axis=1))
    mean = (probabilities[agree] + teacher[agree]) / 2
    chosen, pseudo = surest(mean, share * len(probabilities) / max(len(agree), 1))
    return agree[chosen], pseudo


def self_train(
    model: keras.Model,
    foreign: np.ndarray,
    mnist: tuple[training.Inputs, np.ndarray],
    rounds: int,
    batch_size: int,
    seed: int,
    teacher: np.ndarray | None = None,
) -> None:
    """`rounds` rounds of self-training of `model` on `foreign` (unlabelled), mixed with
    MNIST_PER_ROUND of `mnist` (inputs, labels) each round; progress printed per round. With
    `teacher` (another model's probabilities on `foreign`), co-training: only the digits on
    which the two agree are taken, the surest by the mean of the two's probabilities."""
    rng = np.random.default_rng(seed)
    models.compile_for_training(model, LEARNING_RATE)
    labels_before = None
    for round_number in range(1, rounds + 1):
        probabilities = model.predict(foreign, batch_size=model_files.PREDICT_BATCH, verbose=0)
        share = min(1.0, SHARE_STEP * round_number)
        if teacher is None:
            chosen, pseudo = surest(probabilities, share)
        else:
            chosen, pseudo = surest_agreeing(probabilities, teacher, share)
        drawn = np.sort(rng.choice(len(mnist[1]), min(MNIST_PER_ROUND, len(mnist[1])), replace=False))
        x = np.concatenate([np.asarray(mnist[0][drawn], foreign.dtype), np.repeat(foreign[chosen], COPIES, axis=0)])
        y = np.concatenate([mnist[1][drawn], np.repeat(pseudo, COPIES)]).astype(mnist[1].dtype)
        model.fit(training.batches(x, y, batch_size, shuffle=True), epochs=1, shuffle=False, verbose=0)
        labels_now = probabilities.argmax(axis=1)
        changed = "" if labels_before is None else f", {(labels_now != labels_before).sum()} relabelled since the last"
        labels_before = labels_now
        print(
            f"{model.name}: self-training round {round_number} of {rounds}: {len(chosen)} of {len(foreign)} "
            f"digits from elsewhere pseudo-labelled{'' if teacher is None else ', each agreed by the head'}{changed}",
            flush=True,
        )


def information_loss(_: object, probabilities):
    """A batch's mean entropy of each prediction (low: each one sure) less the entropy of
    their mean (high: the classes all used), as SHOT minimises it."""
    p = keras.ops.clip(probabilities, PROBABILITY_FLOOR, 1.0)
    each = -keras.ops.mean(keras.ops.sum(p * keras.ops.log(p), axis=-1))
    mean = keras.ops.mean(p, axis=0)
    return each + keras.ops.sum(mean * keras.ops.log(mean))


def head_on_elsewhere(head: keras.Model, settings: dict, statistics: dict[str, np.ndarray]) -> np.ndarray:
    """What train_head keeps for the CNN to co-train with (`adapt.cotrain`): the adapted head's
    probabilities on every digit from elsewhere, read through `statistics` as evaluate reads
    them; no rows without co-training or without such digits."""
    features, _ = splits.load("elsewhere", "features")
    if not settings["cotrain"] or len(features) == 0:
        return np.zeros((0, head.output_shape[-1]), "float32")
    reading = model_files.head_for_elsewhere(head, statistics)
    return reading.predict(features, batch_size=model_files.PREDICT_BATCH, verbose=0).astype("float32")


def maximise_information(model: keras.Model, foreign: np.ndarray, batch_size: int) -> None:
    """INFOMAX_EPOCHS of information maximisation of `model` on `foreign` (unlabelled), its
    output layer held; the mean sureness and the classes used printed before and after."""

    def state() -> str:
        probabilities = model.predict(foreign, batch_size=model_files.PREDICT_BATCH, verbose=0)
        used = np.unique(probabilities.argmax(axis=1)).size
        return f"{probabilities.max(axis=1).mean():.1%} sure on average, {used} classes predicted"

    before = state()
    output = model.layers[-1]
    output.trainable = False
    model.compile(optimizer=keras.optimizers.RMSprop(INFOMAX_LEARNING_RATE), loss=information_loss)
    unlabelled_batches = training.batches(foreign, np.zeros(len(foreign), np.uint8), batch_size, shuffle=True)
    model.fit(unlabelled_batches, epochs=INFOMAX_EPOCHS, shuffle=False, verbose=0)
    output.trainable = True
    print(f"{model.name}: information maximisation, {INFOMAX_EPOCHS} epochs: {before}; now {state()}", flush=True)


def adapt(
    model: keras.Model,
    settings: dict,
    inputs: str,
    batch_size: int,
    seed: int,
    statistics: dict[str, np.ndarray] | None = None,
    teacher: np.ndarray | None = None,
) -> bool:
    """Adapt `model` as `settings` (params' `adapt`) say, on `inputs` ("images" or
    "features", then restandardised by `statistics` first, as the head reads them): information
    maximisation with adapt.infomax, then self-training (co-training with `teacher`, another
    model's probabilities on the same digits); whether it did (not with adapt.digits none, nor
    without digits from elsewhere)."""
    if settings["digits"] == catalog.ADAPT_ON[0]:
        return False
    foreign = unlabelled(settings["digits"], inputs)
    if len(foreign) == 0:
        print(f"{model.name}: adapt.digits {settings['digits']} but data.elsewhere is none: not adapted")
        return False
    if statistics is not None:
        restandardize = model_files.restandardizing(statistics, foreign.shape[1:])
        foreign = restandardize.predict(foreign, batch_size=model_files.PREDICT_BATCH, verbose=0)
    if settings["infomax"]:
        maximise_information(model, foreign, batch_size)
    self_train(model, foreign, splits.load("train", inputs), settings["rounds"], batch_size, seed, teacher)
    return True
