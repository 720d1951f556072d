"""The summary of experiments: groups by the params that differ other than seed, and
n, mean, sd, min and max of figures the test knows."""

import numpy as np
import pandas as pd
import pytest

from mnist_transfer.experiments import summary
from tests.conftest import ROOT


def experiment(seed: int, cnn: float, transfer: float, disagreements: int, **params) -> dict:
    return {
        "typ": "branch_commit",
        "State": None,
        "seed": seed,
        "epochs": 1,
        "head.optimizer": "rmsprop",
        "cnn.accuracy": cnn,
        "transfer.accuracy": transfer,
        "disagreements": disagreements,
        **params,
    }


@pytest.fixture
def experiments() -> pd.DataFrame:
    return summary.experiments_table(
        [
            {
                "typ": "baseline",
                "State": None,
                "seed": 2,
                "epochs": 1,
                "head.optimizer": "rmsprop",
                "cnn.accuracy": 0.5,
                "transfer.accuracy": 0.5,
                "disagreements": 1,
            },
            experiment(0, 0.98, 0.92, 800),
            experiment(1, 0.99, 0.94, 700),
            experiment(2, 0.97, 0.93, 900),
            experiment(0, 0.98, 0.95, 600, **{"head.optimizer": "adam"}),
            experiment(1, 0.96, 0.91, 650, **{"head.optimizer": "adam"}),
            {**experiment(3, np.nan, np.nan, np.nan), "State": "Failed"},
            {**experiment(4, np.nan, np.nan, np.nan), "State": "Queued"},
        ]
    )


def test_groups_by_the_params_that_differ_other_than_seed(experiments):
    done, left_out = summary.finished(experiments)
    assert left_out == 2
    table = summary.summarize(done).set_index("head.optimizer")
    assert list(table.index) == ["adam", "rmsprop"]
    assert "epochs" not in table.columns  # the same everywhere
    rmsprop = table.loc["rmsprop"]
    assert (rmsprop["n"], rmsprop["seeds"]) == (3, "0 1 2")
    assert rmsprop["cnn.accuracy mean"] == pytest.approx(0.98)
    assert rmsprop["cnn.accuracy sd"] == pytest.approx(0.01)
    assert rmsprop["transfer.accuracy min"] == pytest.approx(0.92)
    assert rmsprop["transfer.accuracy max"] == pytest.approx(0.94)
    assert rmsprop["disagreements mean"] == pytest.approx(800)
    assert rmsprop["disagreements sd"] == pytest.approx(100)
    adam = table.loc["adam"]
    assert adam["n"] == 2
    assert adam["transfer.accuracy mean"] == pytest.approx(0.93)
    assert adam["transfer.accuracy sd"] == pytest.approx(np.std([0.95, 0.91], ddof=1))


def test_the_same_params_twice_count_once(experiments):
    again = summary.experiments_table([experiment(0, 0.5, 0.5, 5), experiment(0, 0.98, 0.92, 800)])
    done, _ = summary.finished(again)
    assert len(done) == 1 and done.iloc[0]["cnn.accuracy"] == 0.5  # the newest, listed first


def test_one_group_when_only_the_seed_differs():
    done, _ = summary.finished(summary.experiments_table([experiment(0, 0.9, 0.8, 10), experiment(1, 0.7, 0.6, 30)]))
    table = summary.summarize(done)
    assert len(table) == 1
    assert table.iloc[0]["cnn.accuracy mean"] == pytest.approx(0.8)
    text = summary.as_text(table, left_out=1)
    assert "80.00%" in text and "14.14%" in text
    assert text.endswith("(1 unfinished or failed experiments left out)")


def test_whole_number_params_read_as_params_yaml_spells_them():
    rows = [experiment(0, 0.9, 0.8, 10, epochs=1.0), experiment(0, 0.9, 0.8, 10, epochs=3.0)]
    done, _ = summary.finished(summary.experiments_table(rows))
    text = summary.as_text(summary.summarize(done), left_out=0)
    assert "epochs=1: n=1, seeds 0" in text and "epochs=3: n=1, seeds 0" in text


def test_a_study_row_takes_the_runs_made_with_its_settings_and_the_defaults_elsewhere(monkeypatch):
    from mnist_transfer.experiments import records, study

    monkeypatch.chdir(ROOT)
    made = [
        {"settings": {}, "seed": 0},
        {"settings": {"backbone.views": 2, "cnn.augment": True}, "seed": 1},
        {"settings": {"backbone.layer": "block3_pool"}, "seed": 2},
    ]
    runs = records.frame([{**row, "metrics": {"cnn.accuracy": 0.9}} for row in made])
    assert study.matching(runs, ())["seed"].tolist() == [0]
    # A setting at params.yaml's own value is no difference.
    assert study.matching(runs, ("backbone.views=2", "cnn.augment=true", "epochs=1"))["seed"].tolist() == [1]
    assert study.matching(runs, ("backbone.layer=block3_pool",))["seed"].tolist() == [2]
    assert study.matching(runs, ("backbone.views=4",)).empty


def test_a_study_whose_record_holds_none_of_its_configurations_says_so(monkeypatch):
    """As after its centre moves: the around-the-best record holds runs of the old centre only."""
    from mnist_transfer.experiments import records, study

    monkeypatch.chdir(ROOT)
    elsewhere = {"backbone.layer": "block5_pool", "backbone.preprocess": "caffe"}
    runs = records.frame([{"settings": elsewhere, "seed": 0, "metrics": {"transfer.accuracy": 0.9}}])
    text = study.table(study.STUDIES["around-the-best"], runs)
    assert text.startswith("Not in the record, so neither shown nor chosen among: the study's settings alone;")
    assert "|" not in text
