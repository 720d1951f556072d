"""The one error a user can act on, and how a stage reports it."""

import sys
from collections.abc import Callable


class InputError(Exception):
    """Bad input: a param, a data file or a weights file. The message is one line that
    names the key or file, what was found, and what is allowed."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main; turn an InputError into one line on stderr and exit status 2.

    Any other exception is a bug and keeps its traceback.
    """
    try:
        main()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
