"""Every results table in README.md and docs/ is what its record under metrics/ renders, so a
fresh clone rebuilds each one, and a changed record or a table edited by hand is caught."""

import itertools
import json
import re
import shutil

import pytest

from mnist_transfer.core.errors import InputError
from mnist_transfer.experiments import records, study
from mnist_transfer.publishing import tables
from tests.conftest import ROOT


@pytest.fixture
def docs_copy(tmp_path, monkeypatch):
    """README.md, docs/ and metrics/ as committed, in a folder of their own, with params.yaml:
    a study's runs are told apart by how they differ from it."""
    shutil.copy2(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copytree(ROOT / "metrics", tmp_path / "metrics")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_table_is_what_its_record_renders(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert tables.differing() == []


def test_every_record_is_placed_and_every_doc_table_of_figures_is_marked(monkeypatch):
    monkeypatch.chdir(ROOT)
    placed = {match["name"] for doc in tables.documents() for match in tables.MARKED.finditer(doc.read_text())}
    assert placed == set(tables.tables())


def test_a_changed_record_is_caught_and_written_back(docs_copy):
    record = docs_copy / "metrics/transcribed/other-machines.json"
    found = json.loads(record.read_text())
    found["rows"][0][1] = "12.34 ± 0.56 %"
    record.write_text(json.dumps(found))
    assert tables.differing() == ["docs/benchmark.md: a table differs from its record"]
    with pytest.raises(SystemExit) as stopped:
        tables.main(["--check"])
    assert stopped.value.code == 1
    tables.main([])
    assert "| 12.34 ± 0.56 % |" in (docs_copy / "docs/benchmark.md").read_text()
    assert tables.differing() == []


def test_a_table_edited_by_hand_is_caught(docs_copy):
    readme = docs_copy / "README.md"
    readme.write_text(readme.read_text().replace("| 98.95 % |", "| 99.95 % |", 1))
    assert tables.differing() == ["README.md: a table differs from its record"]


def test_a_marker_naming_no_table_is_one_line(docs_copy):
    page = docs_copy / "docs/results.md"
    page.write_text(page.read_text() + "\n<!-- table: no-such-table -->\n<!-- end table -->\n")
    with pytest.raises(InputError, match=r"^docs/results.md: no table named 'no-such-table'; the tables: "):
        tables.differing()


def test_a_record_placed_nowhere_is_caught(docs_copy):
    shutil.copy2(docs_copy / "metrics/transcribed/other-machines.json", docs_copy / "metrics/transcribed/orphan.json")
    assert tables.differing() == ["table orphan: in no document"]


def test_the_machine_is_named_from_the_record():
    intel = {"cpu": "Intel(R) Xeon(R) Processor", "flags": ["avx2", "avx512f", "amx_tile"]}
    zen3 = {"cpu": "AMD EPYC 7B13 64-Core Processor", "flags": ["avx2", "fma"]}
    assert tables.machine_in_words(intel) == "Intel Xeon (AVX-512, AMX)"
    assert tables.machine_in_words(zen3) == "AMD EPYC 7B13 (AVX2)"


def test_a_broken_run_record_is_one_line(tmp_path):
    from mnist_transfer.experiments import records

    record = tmp_path / "runs.jsonl"
    good = {"settings": {}, "seed": 0, "metrics": {"cnn.accuracy": 0.9}}
    record.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(InputError, match=rf"^{record} line 2: not JSON"):
        records.read(record)
    record.write_text(json.dumps({"seed": 0}) + "\n")
    with pytest.raises(InputError, match=rf"^{record} line 1: expected an object with settings, seed and metrics$"):
        records.read(record)
    with pytest.raises(InputError, match=r"no such record; a sweep or study with --record writes it$"):
        records.read(tmp_path / "absent.jsonl")


def test_the_readmes_two_commands_quote_their_records():
    """README's first lines time `make repro` and `make test` as metrics/bench/make-*.json measured them."""
    readme = (ROOT / "README.md").read_text()
    for target in ("repro", "test"):
        record = json.loads((ROOT / f"metrics/bench/make-{target}.json").read_text())
        with_setup = (record["setup_s"] + record["target_s"]) / 60
        quoted = f"{with_setup:.1f} min from a fresh clone ({record['target_s'] / 60:.1f} after set-up)"
        line = next(line for line in readme.splitlines() if line.startswith(f"make {target} "))
        assert quoted in line, (line, quoted)
        assert f"commit {record['commit'][:7]}" in readme


# A measured figure: a decimal share, a spread, a duration, a size, a speed or a ratio. The blog's
# own two, the kernel's, and the targets issues set for extraction and for another runtime are
# quoted, not measured.
FIGURE = re.compile(r"\d+\.\d+ ?%|± ?\d|\d+ min \d+ s|\d[\d,.]* ?(?:ms|MB|MiB|GB|GiB|images/s|GFLOP/s)\b|\d+\.\d+ ?x\b")
QUOTED = {"98.95 %", "95.65 %", "99.67 %", "2,000 images/s", "1.5x"}


def outside_markers(text: str) -> str:
    """`text` without its generated tables and its code, in blocks or inline (settings, not measurements)."""
    return re.sub(r"```.*?```|`[^`\n]*`", "", tables.MARKED.sub("", text), flags=re.S)


def hand_written_figures(text: str) -> list[str]:
    return [
        line.strip()
        for line in outside_markers(text).splitlines()
        if any(found not in QUOTED for found in FIGURE.findall(line))
    ]


@pytest.mark.parametrize("document", tables.documents(), ids=lambda path: path.name)
def test_prose_figures_come_from_records(document):
    assert hand_written_figures((ROOT / document).read_text()) == [], f"{document}: figures outside a generated block"


# Decimals in prose that are versions or settings, not measurements.
NOT_MEASURED = {
    "3.11": "Python",
    "3.12": "Python",
    "3.13": "Python",
    "4.0": "the licence, CC BY 4.0",
    "4.3": "the blog's section",
    "1.5": "the rule for another runtime, 1.5x TensorFlow's best",
    "0.4": "the blog's dropout",
    "89.5": "Pillow's decompression-bomb limit, million pixels",
    "6.2": "Vega",
    "5.21": "Vega-Lite",
    "7.0": "Vega-Embed",
    "99.67": "the kernel's accuracy, quoted",
}
DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+(?![\w.]*\d)")


def decimals_without_a_table(text: str) -> list[str]:
    """Decimals in `text`'s prose (tables, code and links' addresses left out) that none of its
    generated tables holds: a figure typed from a record must be the record's, shown beside it."""
    generated = "".join(match.group("body") for match in tables.MARKED.finditer(text))
    shown = set(DECIMAL.findall(generated))
    prose = re.sub(r"\]\([^)]*\)", "]", outside_markers(text))
    return [
        decimal
        for line in prose.splitlines()
        if not line.startswith("|")
        for decimal in DECIMAL.findall(line)
        if decimal not in shown and decimal not in NOT_MEASURED
    ]


@pytest.mark.parametrize("document", tables.documents(), ids=lambda path: path.name)
def test_prose_decimals_are_the_documents_tables(document):
    assert decimals_without_a_table((ROOT / document).read_text()) == [], f"{document}: a decimal no table holds"


def test_a_decimal_no_table_holds_is_caught():
    text = "The 1s: 8.48 px, 2.9 times MNIST's.\n\n<!-- table: x -->\n| 1 | 8.48 |\n<!-- end table -->\n"
    assert decimals_without_a_table(text) == ["2.9"]
    assert decimals_without_a_table(text.replace("2.9 times", "bolder than")) == []
    assert decimals_without_a_table("[Vega 6.2](https://example.org/9.9/): 0.25 s") == ["0.25"]


# A table's header that names something measured.
MEASURED = re.compile(r"GFLOP|images/s|MiB|GiB|seconds|\bmin\b|%")


def hand_typed_tables(text: str) -> list[str]:
    """The header of each table outside the generated blocks that holds measured figures."""
    found, lines = [], outside_markers(text).splitlines()
    for number, line in enumerate(lines):
        if line.startswith("|") and (number == 0 or not lines[number - 1].startswith("|")):
            table = list(itertools.takewhile(lambda row: row.startswith("|"), lines[number:]))
            if MEASURED.search(table[0]) or any(FIGURE.search(row) for row in table):
                found.append(table[0])
    return found


@pytest.mark.parametrize("document", tables.documents(), ids=lambda path: path.name)
def test_tables_of_figures_are_generated(document):
    assert hand_typed_tables((ROOT / document).read_text()) == [], f"{document}: a table of figures typed by hand"


def test_a_hand_typed_table_of_figures_is_caught():
    text = "| key | meaning |\n|---|---|\n| `a` | 0.1 |\n\n| model | GFLOP |\n|---|---|\n| x | 1.4 |\n"
    assert hand_typed_tables(text) == ["| model | GFLOP |"]


def test_a_hand_written_figure_is_caught():
    text = "# Page\n\nOurs: 95.38 %, the blog's 95.65 %.\n\n<!-- table: x -->\n99.1 ± 0.2 %\n<!-- end table -->\n"
    assert hand_written_figures(text) == ["Ours: 95.38 %, the blog's 95.65 %."]
    assert hand_written_figures(text.replace("95.38 %", "ours")) == []
    assert hand_written_figures("bfloat16 is 2.06x float32 here; the rule was 1.5x.") == [
        "bfloat16 is 2.06x float32 here; the rule was 1.5x."
    ]
    assert hand_written_figures("The rule was 1.5x, at 4x the resolution.") == []


def test_the_best_frozen_configuration_is_the_layers_and_heads_winner(monkeypatch):
    """Around-the-best and the elsewhere study build on BEST_FROZEN: it must be what the
    layers-and-heads record chooses on MNIST's validation split, not a layer typed by hand."""
    monkeypatch.chdir(ROOT)
    chooser = study.STUDIES[tables.BEST_FROZEN]
    configuration, _ = study.winners(chooser, tables.run_record(f"study-{tables.BEST_FROZEN}")[0])["transfer"]
    assert set(study.BEST_FROZEN) == {*chooser.common, *configuration}


def test_the_committed_record_holds_the_committed_run_and_its_machine(monkeypatch):
    """README's first run lists each machine kind's run from metrics/runs/committed.jsonl: the
    committed run must be its kind's latest (`python -m mnist_transfer.publishing.tables --committed HEAD`)."""
    monkeypatch.chdir(ROOT)
    committed = json.loads((ROOT / "metrics/evaluate.json").read_text())
    machine = committed.pop("machine")
    same_kind = [row for row in tables.run_record(tables.COMMITTED)[1] if row["machine"]["cpu"] == machine["cpu"]]
    assert same_kind and same_kind[-1]["metrics"] == tables.params.dotted(committed)
    assert same_kind[-1]["machine"]["flags"] == machine["flags"].split()
    row = tables.committed_row("HEAD")
    assert row["metrics"] == tables.params.dotted(committed) and row["seed"] == 2
    with pytest.raises(InputError, match=r"^tables: git show no-such-rev:metrics/evaluate.json: "):
        tables.committed_row("no-such-rev")


def test_a_metrics_diff_of_experiments_the_record_lacks_is_one_line(tmp_path, monkeypatch):
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as error:
        study.metrics_diff("elsewhere")
    assert str(error.value) == (
        "study elsewhere: its record has no seed-2 experiment of the study's settings alone; run the study "
        "first (python -m mnist_transfer.experiments.study elsewhere)"
    )
    assert not (tmp_path / "metrics/bench").exists()  # nothing written


def backbone_run(name: str, layer: str, seed: int, validation: float, test: float) -> dict:
    # As a sweep records them: only what differs from params.yaml, whose backbone is VGG16.
    settings = {"backbone.layer": layer, "data.train_limit": 10000, "head.epochs": 10, "head.normalize": True}
    settings |= {} if name == "vgg16" else {"backbone.name": name}
    figures = {"transfer.val_accuracy": validation, "transfer.accuracy": test, "test_images": 10000}
    figures["features_mib"] = {"relu": 20.0, "pool4_conv": 400.0}.get(layer, 200.0)
    machine = {"cpu": "AMD EPYC", "flags": ["avx2"]}
    return {"run": f"{layer}-{seed}", "commit": "0" * 40, "machine": machine, "cores_shared": False} | {
        "settings": settings,
        "seed": seed,
        "metrics": figures,
    }


def test_the_backbones_reading_chooses_on_validation_and_pairs_the_cuts_by_seed(tmp_path, monkeypatch):
    """VGG16's earlier cut is best on test, DenseNet121's on validation: the reading names
    DenseNet121, and compares each backbone's two cuts seed by seed."""
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    runs = [
        backbone_run("vgg16", "block5_pool", 0, 0.95, 0.96),
        backbone_run("vgg16", "block5_pool", 1, 0.95, 0.97),
        backbone_run("vgg16", "block4_pool", 0, 0.97, 0.99),
        backbone_run("vgg16", "block4_pool", 1, 0.97, 0.99),
        backbone_run("densenet121", "relu", 0, 0.98, 0.975),
        backbone_run("densenet121", "relu", 1, 0.98, 0.975),
        backbone_run("densenet121", "pool4_conv", 0, 0.99, 0.98),
        backbone_run("densenet121", "pool4_conv", 1, 0.99, 0.96),
    ]
    record = tmp_path / "metrics/runs/study-backbones.jsonl"
    record.parent.mkdir(parents=True)
    record.write_text("".join(json.dumps(run) + "\n" for run in runs))
    reading = " ".join(tables.backbones_reading().split())
    assert (
        "higher at 1 of 2 backbones. VGG16 +2.50 ± 0.71 (2.00 to 3.00) points, up on 2 seeds and down on 0" in reading
    )
    assert "DenseNet121 -0.50 ± 1.41 (-1.50 to 0.50) points, up on 1 seed and down on 1 of 2" in reading
    assert "Chosen on MNIST's validation split:** DenseNet121 at `pool4_conv` (99.00 % on validation" in reading
    assert "VGG16 at `block4_pool` (97.00 % on validation, 99.00 % on test), 5.1 times its GFLOP." in reading
    # The largest features: 400 MiB for 20,000 images is 1,400 MiB, 1.4 GiB, for 70,000.
    assert "DenseNet121 at `pool4_conv`, is 400 MiB for the study's 20,000 MNIST images, so about 1.4 GiB" in reading


def around_run(change: dict, seed: int, test: float, images_per_s: float, precision: str = "bfloat16") -> dict:
    # As a sweep records them: only what differs from params.yaml, here BEST_FROZEN and one change.
    settings = records.differing((*study.BEST_FROZEN, *(f"{key}={value}" for key, value in change.items())))
    figures = {"transfer.val_accuracy": test - 0.002, "transfer.accuracy": test, "test_images": 10000}
    figures |= {"images_per_s": images_per_s, "features_mib": 615.0, "features.precision": precision}
    figures |= {"machine.cpu": "AMD EPYC", "machine.flags": "avx2 fma avx512f avx512_bf16"}
    machine = {"cpu": "AMD EPYC", "flags": figures["machine.flags"].split()}
    return {"run": f"around-{seed}", "commit": "0" * 40, "machine": machine, "cores_shared": False} | {
        "settings": settings,
        "seed": seed,
        "metrics": figures,
    }


def test_the_around_the_best_reading_pairs_each_change_with_the_configuration_by_seed(tmp_path, monkeypatch):
    """float32 convolutions gain on seed 0 and lose on seed 1 against the configuration's
    bfloat16; the reading says so per seed, with each one's speed, and names what `auto` picked."""
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    float32 = {"backbone.precision": "float32"}
    runs = [
        around_run({}, 0, 0.990, 300.0),
        around_run({}, 1, 0.992, 300.0),
        around_run(float32, 0, 0.993, 100.0, precision="float32"),
        around_run(float32, 1, 0.991, 100.0, precision="float32"),
    ]
    record = tmp_path / "metrics/runs/study-around-the-best.jsonl"
    record.parent.mkdir(parents=True)
    record.write_text("".join(json.dumps(run) + "\n" for run in runs))
    reading = " ".join(tables.around_the_best_reading().split())
    assert "its convolutions in bfloat16, as `auto` picks on this record's AMD EPYC (AVX-512))" in reading
    assert "99.10 ± 0.14 % on test; 300 images/s" in reading
    assert (
        "**convolutions in float32** (`backbone.precision=float32`), against it, paired by seed: validation "
        "+0.10 ± 0.28 (-0.10 to 0.30) points, up on 1 seed and down on 1 of 2" in reading
    )
    assert "; 100 images/s through the backbone, 615 MiB of features." in reading
    assert "32 px input" not in reading  # not in the record: not read


def test_a_configuration_whose_features_dvc_restored_takes_its_speed_from_the_run_that_extracted_them(
    tmp_path, monkeypatch
):
    """The around-the-best centre's runs restored their features from another study's runs,
    so record no speed: the reading finds the run that extracted them, on the same machine."""
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    restored = around_run({}, 0, 0.990, 0.0)
    del restored["metrics"]["images_per_s"], restored["metrics"]["features_mib"]
    extracted = around_run({"head.epochs": 1}, 0, 0.980, 406.0)
    elsewhere_machine = around_run({"head.epochs": 2}, 0, 0.980, 999.0)
    elsewhere_machine["metrics"]["machine.flags"] = "avx2 fma"
    runs = tmp_path / "metrics/runs"
    runs.mkdir(parents=True)
    (runs / "study-around-the-best.jsonl").write_text(json.dumps(restored) + "\n")
    (runs / "study-a.jsonl").write_text(json.dumps(elsewhere_machine) + "\n")
    (runs / "study-layers-and-heads.jsonl").write_text(json.dumps(extracted) + "\n")
    reading = " ".join(tables.around_the_best_reading().split())
    assert (
        "406 images/s through the backbone, 615 MiB of features (DVC restored these features; they were "
        "extracted for `metrics/runs/study-layers-and-heads.jsonl`)." in reading
    )
