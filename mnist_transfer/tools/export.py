"""One model whole, in one file, for use outside this project: raw 28x28 uint8 digits in,
ten probabilities out. The pipeline stores the frozen backbone once, beside its
features, and each experiment only its head; this puts the two together.

    python -m mnist_transfer.tools.export transfer -o vgg16.keras
    python -c "import keras; keras.models.load_model('vgg16.keras', safe_mode=True)"
"""

import argparse
import sys
from pathlib import Path

from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.tools import predict


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mnist_transfer.tools.export", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=predict.MODEL_NAMES)
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .keras file to write")
    predict.add_model_arguments(parser)
    args = parser.parse_args(argv)
    if args.output.suffix != ".keras":
        raise InputError(f"{args.output}: the output must end in .keras, Keras' own format")
    model = predict.classifiers([args.model], args.models, args.extractor)[args.model]
    from mnist_transfer.core import model_files

    model_files.save(model, args.output)
    print(f"export: {args.model} whole, raw digits in, saved {args.output}")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
