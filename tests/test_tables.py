"""Every results table in README.md and docs/ is what its record under metrics/ renders, so a
fresh clone rebuilds each one, and a changed record or a table edited by hand is caught."""

import json
import shutil

import pytest

from mnist_transfer.core.errors import InputError
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
    record = docs_copy / "metrics/transcribed/backbones.json"
    found = json.loads(record.read_text())
    found["rows"][0][2] = "12.34 ± 0.56 %"
    record.write_text(json.dumps(found))
    assert tables.differing() == ["docs/backbones.md: a table differs from its record"]
    with pytest.raises(SystemExit) as stopped:
        tables.main(["--check"])
    assert stopped.value.code == 1
    tables.main([])
    assert "| 12.34 ± 0.56 % |" in (docs_copy / "docs/backbones.md").read_text()
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
    shutil.copy2(docs_copy / "metrics/transcribed/backbones.json", docs_copy / "metrics/transcribed/orphan.json")
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
