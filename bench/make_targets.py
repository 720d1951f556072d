"""The README's two commands as a newcomer runs them, timed: a fresh clone of this commit,
`make setup` (the set-up, its own figure), then `make test` or `make repro` (the set-up then
found done). Each writes its record, metrics/bench/make-test.json or make-repro.json.

    python -m bench.make_targets test      # about 15 minutes on 2 cores
    python -m bench.make_targets repro     # about 12 minutes: the full data, no DVC cache
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from bench.record import Recording
from bench.timing import timed

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("test", "repro")


def last_line(log: Path, starting: str) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith(starting)]
    return lines[-1] if lines else ""


def main() -> None:
    target = sys.argv[1] if sys.argv[1:] else ""
    if target not in TARGETS:
        sys.exit(f"usage: python -m bench.make_targets {{{','.join(TARGETS)}}}")
    recording = Recording(f"make-{target}", command=f"python -m bench.make_targets {target}")
    with tempfile.TemporaryDirectory(prefix="mnist-transfer-make-") as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        log = Path(folder) / "make.log"
        with log.open("w") as out:
            setup_s = timed(lambda: subprocess.run(["make", "setup"], cwd=clone, stdout=out, stderr=out, check=True))
            result = {}
            target_s = timed(
                lambda: result.update(rc=subprocess.run(["make", target], cwd=clone, stdout=out, stderr=out).returncode)
            )
        closing = last_line(log, "=") if target == "test" else last_line(log, "disagreements:")
        rows = [
            ("make setup in a fresh clone", f"{setup_s:.0f} s"),
            (f"make {target}, set-up found done", f"{target_s:.0f} s = {target_s / 60:.1f} min, exit {result['rc']}"),
            (f"make {target}, set-up included", f"{(setup_s + target_s) / 60:.1f} min"),
            (f"make {target}: its last line", closing.strip("= ")),
        ]
    recording.write(rows, setup_s=round(setup_s, 1), target_s=round(target_s, 1), exit_status=result["rc"])
    for figure, measured in rows:
        print(f"| {figure} | {measured} |")


if __name__ == "__main__":
    main()
