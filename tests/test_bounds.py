"""A param value the check accepts runs: the pipeline at the top of every bound at once,
on a few digits. (Values past the bounds fail in one line: test_params, test_faults.)"""

import pytest

from mnist_transfer.core import atomic
from mnist_transfer.core.errors import InputError
from stages import train_head
from tests.conftest import commit_all, copy_project, dvc, set_params, tiny_arrays

LARGEST = {
    "seed": 2**32 - 1,
    "cnn.batch_size": 4096,
    "cnn.learning_rate": 1,
    "backbone.input_size": 224,
    "backbone.batch_size": 167,  # the most that 224 px allows
    "head.units": 1024,
    "head.batch_size": 16384,
    "head.learning_rate": 1,
    "render.grid_columns": 200,
}


@pytest.mark.reruns
def test_the_largest_values_the_check_accepts_run(tmp_path):
    repo = copy_project(tmp_path)
    atomic.write_npz(repo / "tiny.npz", tiny_arrays(40, 20))
    set_params(repo, {"data.source": "tiny.npz", "data.elsewhere": "none", **LARGEST})
    commit_all(repo, "the largest params")
    dvc(repo, "repro")
    # The widest head, on the smallest features it can sit on; the most views, where they cost least.
    dvc(repo, "exp", "run", "-S", "head.units=8192", "-S", "backbone.input_size=32", "-S", "backbone.views=8")


def test_a_head_too_wide_for_its_features_is_refused_before_it_trains():
    train_head.check_head_fits(1337, 200_704)  # block3_pool at 224 px: 28 x 28 x 256
    with pytest.raises(InputError) as error:
        train_head.check_head_fits(1338, 200_704)
    assert str(error.value) == (
        "params.yaml: head.units 1338 on 200,704 features per image is 268,541,952 weights, over the 268,435,456 "
        "that fit in about 3 GiB with their optimizer state; use head.units <= 1337, or features from a later "
        "layer or a smaller input_size"
    )
