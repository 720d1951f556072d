"""One model whole in one .keras file, raw 28x28 uint8 digits in, for use outside this project.

python -m mnist_transfer.commands.export transfer -o vgg16.keras
"""

import argparse
import sys
from pathlib import Path

from mnist_transfer.commands import predict
from mnist_transfer.core import catalog, quiet
from mnist_transfer.core.errors import InputError, run_stage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_transfer.commands.export", description=__doc__.splitlines()[0]
    )
    parser.add_argument("model", choices=list(catalog.MODELS))
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .keras file to write")
    predict.add_model_arguments(parser)
    args = parser.parse_args(argv)
    if args.output.suffix != ".keras":
        raise InputError(f"{args.output}: the output must end in .keras, Keras' own format")
    quiet.load_tensorflow()  # only now, and without its start-up lines
    from mnist_transfer.core import model_files

    model = model_files.classifiers([args.model], args.models, args.extractor)[args.model]
    model_files.save(model, args.output)
    print(f"export: {args.model} whole, raw digits in, saved {args.output}")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
