"""The process one sweep point runs in (sweep_task.run_point starts it): the point as JSON on
stdin, what it did as JSON on stdout, a failure as one line on stderr."""

import json
import sys

from mnist_transfer.experiments.sweep_task import Point, PointFailed, point_in_this_process


def main() -> None:
    given = json.load(sys.stdin)
    point = Point(**{**given, "settings": tuple(given["settings"])})
    try:
        print(json.dumps(point_in_this_process(point)))
    except PointFailed as error:
        print(error, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
