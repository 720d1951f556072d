"""A benchmark's figures as a record under metrics/bench/, committed beside the docs that
quote them (experiments.records.Recording): what ran, on which commit and machine, how long, and
whether the cores were busy with something else when it started."""

import sys
from pathlib import Path

from mnist_transfer.experiments import records


class Recording(records.Recording):
    """Started when made; `write` saves the record of `part` with its rows of figures, under
    metrics/bench/ or its `folder` there, and the `command` that measures it again (by default
    `python -m bench`'s own)."""

    def __init__(self, part: str, folder: str = "", command: str = "") -> None:
        option = f"--folder {folder} " if folder else ""
        super().__init__(part, command or f"python -m bench {option}{part}", records.BENCH / folder)

    def write(self, rows: list[tuple[str, str]], **extra: object) -> Path:
        path = super().write(rows=[{"figure": figure, "measured": measured} for figure, measured in rows], **extra)
        print(f"bench: {path}", file=sys.stderr)
        return path
