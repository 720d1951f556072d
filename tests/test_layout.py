"""The layout a newcomer relies on: `ls stages/` is the pipeline, and each stage's code
deps in dvc.yaml are exactly the project modules it imports, directly or not."""

import ast
from pathlib import Path

import yaml

from tests.conftest import ROOT

PACKAGES = ("stages", "mnist_transfer")


def module_file(name: str) -> Path | None:
    """The project file that module `name` is, or None for a module from elsewhere."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(path: Path) -> set[Path]:
    """The project files that `path` imports, anywhere in it (a stage imports TensorFlow's
    modules late), with the packages that hold them."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    files = set()
    for name in names:
        parts = name.split(".")
        files |= {module_file(".".join(parts[:i])) for i in range(1, len(parts) + 1)}
    return files - {None}


def import_closure(path: Path) -> set[Path]:
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += imported_files(current)
    return seen


def declared_code(deps: list[str]) -> set[Path]:
    """The project's Python files among a stage's deps, a folder standing for every module in it."""
    files = set()
    for dep in deps:
        path = ROOT / dep
        if dep.split("/")[0] not in PACKAGES:
            continue
        files |= set(path.rglob("*.py")) if path.is_dir() else {path}
    return files


def code_dep_mismatches(dvc_yaml: dict) -> list[str]:
    """One line per difference between a stage's declared code deps and what it imports."""
    problems = []
    for stage, spec in dvc_yaml["stages"].items():
        entry = ROOT / "stages" / f"{stage}.py"
        imported = import_closure(entry) | {ROOT / "stages/__init__.py"}
        declared = declared_code(spec.get("deps", []))
        for path in sorted(imported - declared):
            problems.append(f"{stage}: imports {path.relative_to(ROOT)}, not in its deps")
        for path in sorted(declared - imported):
            problems.append(f"{stage}: declares {path.relative_to(ROOT)}, which it never imports")
    return problems


def dvc_yaml() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def test_ls_stages_is_the_pipeline():
    stages = {p.stem for p in (ROOT / "stages").glob("*.py")} - {"__init__"}
    assert stages == set(dvc_yaml()["stages"])
    assert not [p for p in (ROOT / "stages").iterdir() if p.is_dir() and p.name != "__pycache__"]


def test_every_stage_declares_exactly_the_code_it_imports():
    assert code_dep_mismatches(dvc_yaml()) == []


def test_a_missing_or_extra_code_dep_is_named():
    spec = dvc_yaml()
    deps = spec["stages"]["train_head"]["deps"]
    deps.remove("mnist_transfer/training.py")
    deps.append("mnist_transfer/comparison.py")
    assert code_dep_mismatches(spec) == [
        "train_head: imports mnist_transfer/training.py, not in its deps",
        "train_head: declares mnist_transfer/comparison.py, which it never imports",
    ]


def test_a_folder_dep_covers_every_module_in_it():
    spec = dvc_yaml()
    spec["stages"]["preprocess"]["deps"].append("mnist_transfer/sources")
    problems = code_dep_mismatches(spec)
    assert "preprocess: declares mnist_transfer/sources/mnist.py, which it never imports" in problems
