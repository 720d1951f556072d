"""The README and docs/ show only commands that exist: every `make` target and variable is
in the Makefile, every `python -m` module of this repository is a file, every param set with
`-S`, `--set-param` or `SET=` is a key of the params schema. The README opens with the two
commands and stays short; prose lines stay within 100 characters; relative links resolve.

Each check is a function of a document's text that returns its problems, one line each,
naming the file, the line and what is missing; the small tests at the end feed each one a
bad example to show that it fails."""

import re
import shlex
from bisect import bisect_right
from pathlib import Path

import pytest

from mnist_transfer.core.params import SCHEMA

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
OUR_PACKAGES = ("mnist_transfer", "stages", "bench")
README_MAX_LINES = 250
FIRST_SCREEN_LINES = 40
PROSE_MAX_CHARS = 100

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LONE_LINK = re.compile(r"^\s*!?\[[^\]]*\]\([^)\s]*\)\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
PYTHON_M = re.compile(r"\bpython(?:3(?:\.\d+)?)?\s+-m\s+([A-Za-z_][\w.]*)")
SEPARATORS = re.compile(r"&&|\|\||[;|]")
MAKE_OPTIONS_WITH_ARGUMENT = {"-C", "-f", "-j", "-l", "-o", "-W", "-I", "--file", "--directory"}


# What the documents say


def split_fences(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(the lines inside fenced code blocks, the lines outside them), each with its number."""
    code, prose = [], []
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            inside = not inside
            continue
        (code if inside else prose).append((number, line))
    return code, prose


def snippets(text: str) -> list[tuple[int, str]]:
    """Every piece of shell the text shows, with the line it starts on: each line of a fenced
    block (less its `$ ` prompt and its comment, whose inline code counts too), and each inline
    code span outside the blocks (a span may run over a line break)."""
    code, prose = split_fences(text)
    found = []
    for number, line in code:
        comment_start = re.search(r"(?:^|\s)#", line)
        command, comment = (line[: comment_start.start()], line[comment_start.end() :]) if comment_start else (line, "")
        command = re.sub(r"^\s*\$\s", "", command).strip()
        if command:
            found.append((number, command))
        found += [(number, span.group(2).strip()) for span in CODE_SPAN.finditer(comment)]
    offsets, numbers, joined = [], [], ""
    for number, line in prose:
        offsets.append(len(joined))
        numbers.append(number)
        joined += line + "\n"
    for span in CODE_SPAN.finditer(joined):
        if "\n\n" not in span.group(2):
            found.append((numbers[bisect_right(offsets, span.start()) - 1], " ".join(span.group(2).split())))
    return found


def words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def commands(snippet: str) -> list[list[str]]:
    """The snippet's commands, each as its words, split at `&&`, `||`, `;` and `|`."""
    return [words(part) for part in SEPARATORS.split(snippet) if part.strip()]


def make_invocations(snippet: str) -> list[list[str]]:
    """The words after `make` of each command in the snippet that runs make."""
    found = []
    for command in commands(snippet):
        while command and (command[0] == "time" or re.fullmatch(r"[A-Za-z_]\w*=.*", command[0])):
            command = command[1:]
        if command and command[0] == "make":
            found.append(command[1:])
    return found


def param_settings(snippet: str) -> list[str]:
    """Each `key=value` the snippet sets: after `-S` or `--set-param`, and inside `SET=`."""
    settings = []
    for command in commands(snippet):
        for index, word in enumerate(command):
            if word in ("-S", "--set-param") and index + 1 < len(command):
                settings.append(command[index + 1])
            elif word.startswith("--set-param="):
                settings.append(word.removeprefix("--set-param="))
            elif word.startswith("SET="):
                settings += word.removeprefix("SET=").split()
    return settings


# What the Makefile has


def makefile_targets_and_variables(makefile: str) -> tuple[set[str], set[str]]:
    """The Makefile's explicit targets (its rules and .PHONY) and the variables it sets."""
    targets, variables = set(), set()
    for line in makefile.splitlines():
        if line.startswith(("\t", "#")) or not line.strip():
            continue
        assignment = re.match(r"^(?:override\s+|export\s+)?([A-Za-z_][\w]*)\s*(?:\?|:|::|\+|!)?=", line)
        if assignment:
            variables.add(assignment.group(1))
            continue
        if re.match(r"^(ifn?eq|ifn?def|else|endif|define|endef|include|-include|export|unexport|vpath)\b", line):
            continue
        rule = re.match(r"^([^:=#]+?)\s*::?(?!=)(.*)$", line)
        if rule and "$" not in rule.group(1):  # a computed target, or a line such as $(error ...: ...)
            names = rule.group(1).split()
            if names == [".PHONY"]:
                targets.update(rule.group(2).split("#")[0].split())
            else:
                targets.update(name for name in names if "%" not in name)
    targets.discard(".PHONY")
    return targets, variables


# The checks: each takes a document's name and text, and returns its problems


def make_problems(name: str, text: str, targets: set[str], variables: set[str]) -> list[str]:
    problems = []
    for number, snippet in snippets(text):
        for arguments in make_invocations(snippet):
            skip_next = False
            for word in arguments:
                if skip_next:
                    skip_next = False
                elif word in MAKE_OPTIONS_WITH_ARGUMENT:
                    skip_next = True
                elif word.startswith("-"):
                    continue
                elif "=" in word:
                    variable = word.split("=", 1)[0]
                    if variable not in variables:
                        problems.append(f"{name}:{number}: make variable {variable} is not set in the Makefile")
                elif word not in targets:
                    problems.append(f"{name}:{number}: make target {word!r} is not in the Makefile")
    return problems


def module_problems(name: str, text: str, root: Path) -> list[str]:
    problems = []
    for number, snippet in snippets(text):
        for module in PYTHON_M.findall(snippet):
            if module.split(".")[0] not in OUR_PACKAGES:
                continue
            path = root.joinpath(*module.split("."))
            if not (path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()):
                problems.append(
                    f"{name}:{number}: python -m {module}: no {path.relative_to(root)}.py "
                    f"nor {path.relative_to(root)}/__main__.py"
                )
    return problems


def param_problems(name: str, text: str, keys: set[str]) -> list[str]:
    problems = []
    for number, snippet in snippets(text):
        for setting in param_settings(snippet):
            if setting == "..." or setting.startswith("<"):  # a placeholder: `-S ...`, `-S <key>=<value>`
                continue
            if "=" not in setting:
                problems.append(f"{name}:{number}: {setting!r} is not key=value")
                continue
            key = setting.split("=", 1)[0]
            if ":" in key:  # DVC's `params.yaml:key=value`
                key = key.split(":", 1)[1]
            if key not in keys:
                problems.append(f"{name}:{number}: param {key!r} is not a key of params.SCHEMA")
    return problems


def prose_problems(name: str, text: str, limit: int = PROSE_MAX_CHARS) -> list[str]:
    """Prose lines over `limit` characters: not fenced code, table rows or a lone link/image."""
    _, prose = split_fences(text)
    return [
        f"{name}:{number}: prose line of {len(line)} characters, over {limit}"
        for number, line in prose
        if len(line) > limit and not line.lstrip().startswith("|") and not LONE_LINK.match(line)
    ]


def readme_problems(name: str, text: str) -> list[str]:
    lines = text.splitlines()
    problems = []
    if len(lines) > README_MAX_LINES:
        problems.append(f"{name}: {len(lines)} lines, over {README_MAX_LINES}")
    first_screen = "\n".join(lines[:FIRST_SCREEN_LINES])
    for command in ("make repro", "make test"):
        if command not in first_screen:
            problems.append(f"{name}:1-{FIRST_SCREEN_LINES}: `{command}` is not on the first screen")
    return problems


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    _, prose = split_fences(text)
    found, seen = set(), {}
    for _, line in prose:
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = anchor(heading.group(1))
            found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return found


def link_problems(name: str, text: str, path: Path) -> list[str]:
    """Relative links and images that do not resolve from the document's own folder."""
    problems = []
    _, prose = split_fences(text)
    for number, line in prose:
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue
            file_part, _, fragment = target.partition("#")
            if not file_part:
                if fragment not in anchors(text):
                    problems.append(f"{name}:{number}: link {target!r}: no heading #{fragment} in {name}")
                continue
            linked = (path.parent / file_part).resolve()
            if not linked.exists():
                problems.append(f"{name}:{number}: link {target!r}: {file_part} does not exist")
            elif fragment and linked.suffix == ".md" and fragment not in anchors(linked.read_text()):
                problems.append(f"{name}:{number}: link {target!r}: no heading #{fragment} in {linked.name}")
    return problems


# The documents as they are


def shown_name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def makefile() -> tuple[set[str], set[str]]:
    return makefile_targets_and_variables((ROOT / "Makefile").read_text())


def report(problems: list[str]) -> str:
    return "\n".join(problems)


def test_every_page_opens_with_its_one_title():
    assert len(DOCS) > 1, "docs/ holds no pages"
    for path in DOCS:
        lines = [line for line in path.read_text().splitlines() if not line.startswith("<!--")]
        outside_code = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        assert lines[0].startswith("# "), f"{path.name}: its first line is not a title"
        assert re.findall(r"^# ", outside_code, flags=re.M) == ["# "], f"{path.name}: more than one title"


@pytest.mark.parametrize("path", DOCS, ids=shown_name)
def test_every_make_target_and_variable_is_in_the_makefile(path, makefile):
    targets, variables = makefile
    problems = make_problems(shown_name(path), path.read_text(), targets, variables)
    assert not problems, report(problems)


@pytest.mark.parametrize("path", DOCS, ids=shown_name)
def test_every_python_module_of_ours_exists(path):
    problems = module_problems(shown_name(path), path.read_text(), ROOT)
    assert not problems, report(problems)


@pytest.mark.parametrize("path", DOCS, ids=shown_name)
def test_every_param_set_is_in_the_schema(path):
    problems = param_problems(shown_name(path), path.read_text(), set(SCHEMA))
    assert not problems, report(problems)


@pytest.mark.parametrize("path", DOCS, ids=shown_name)
def test_prose_lines_are_short(path):
    problems = prose_problems(shown_name(path), path.read_text())
    assert not problems, report(problems)


@pytest.mark.parametrize("path", DOCS, ids=shown_name)
def test_relative_links_resolve(path):
    problems = link_problems(shown_name(path), path.read_text(), path)
    assert not problems, report(problems)


def test_readme_is_short_and_opens_with_the_two_commands():
    problems = readme_problems("README.md", README.read_text())
    assert not problems, report(problems)


def test_the_readme_links_to_every_docs_page():
    linked = {target.partition("#")[0] for target in LINK.findall(README.read_text())}
    missing = [shown_name(page) for page in DOCS[1:] if shown_name(page) not in linked]
    assert not missing, f"README.md: no link to {', '.join(missing)}"


# Each check fails on a bad example

MAKEFILE = """\
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3)
endif
ifeq ($(PYTHON),)
$(error no Python runs here: make test PYTHON=/path/to/python3)
endif
version_of = $(shell $(1) -c 'import sys')
SEEDS ?= range(0,10)
SET ?=
.PHONY: repro test sweep
repro: setup
\tdvc repro
sweep:
\tpython -m mnist_transfer.experiments.sweep
$(VENV)/installed: requirements.txt
\ttouch $@
"""


def test_the_makefile_is_read_for_targets_and_variables():
    targets, variables = makefile_targets_and_variables(MAKEFILE)
    assert targets == {"repro", "test", "sweep"}
    assert variables == {"PYTHON", "version_of", "SEEDS", "SET"}


def test_an_unknown_make_target_is_caught(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("Run it:\n\n```bash\nmake repro\nmake nosuchtarget   # `make test`\n```\n")
    targets, variables = makefile_targets_and_variables(MAKEFILE)
    assert make_problems("broken.md", page.read_text(), targets, variables) == [
        "broken.md:5: make target 'nosuchtarget' is not in the Makefile"
    ]


def test_an_unknown_make_target_inline_or_with_variables_is_caught():
    targets, variables = makefile_targets_and_variables(MAKEFILE)
    text = "See `make sweep SEEDS='range(0,3)' SET='epochs=3 seed=1'` and\n`make\nsummary`.\n"
    assert make_problems("x.md", text, targets, variables) == ["x.md:2: make target 'summary' is not in the Makefile"]
    assert make_problems("x.md", "`make test SEED=3`", targets, variables) == [
        "x.md:1: make variable SEED is not set in the Makefile"
    ]


def test_prose_that_mentions_make_is_not_a_command():
    targets, variables = makefile_targets_and_variables(MAKEFILE)
    text = "With git and make on the machine.\n\n```\nPYTHON=x make repro   # then make coffee\n```\n"
    assert make_problems("x.md", text, targets, variables) == []


def test_a_missing_module_of_ours_is_caught():
    text = (
        "```\n$ python -m mnist_transfer.commands.predict a.png\npython -m pytest -q\n```\n"
        "Also `python3 -m bench`, `python -m stages.train_head` and `python -m mnist_transfer.nosuch`.\n"
    )
    assert module_problems("x.md", text, ROOT) == [
        "x.md:5: python -m mnist_transfer.nosuch: no mnist_transfer/nosuch.py nor mnist_transfer/nosuch/__main__.py"
    ]


def test_an_unknown_param_is_caught():
    keys = set(SCHEMA)
    text = (
        "```bash\n"
        "dvc exp run -S epochs=3 -S 'seed=range(0,10)' -S head.nosuch=1\n"
        "make sweep SET='backbone.preprocess=caffe head.optimiser=adam' && dvc exp run -S ...\n"
        "python -m mnist_transfer.experiments.sweep --set-param=epoch=2 --set-param params.yaml:head.units=8\n"
        "```\n"
        "`make sweep SET=epochs=3` and `-S backbone.layr=block3_pool`\n"
    )
    assert param_problems("x.md", text, keys) == [
        "x.md:2: param 'head.nosuch' is not a key of params.SCHEMA",
        "x.md:3: param 'head.optimiser' is not a key of params.SCHEMA",
        "x.md:4: param 'epoch' is not a key of params.SCHEMA",
        "x.md:6: param 'backbone.layr' is not a key of params.SCHEMA",
    ]


def test_a_long_prose_line_is_caught():
    long = "word " * 25
    text = (
        f"# Title\n\n{long.strip()}\n\n| {long} |\n\n```\n{long}\n```\n\n"
        f"![an image with a long alt text {long}](../metrics/x.png)\n"
    )
    assert prose_problems("x.md", text) == ["x.md:3: prose line of 124 characters, over 100"]


def test_a_long_readme_or_one_without_the_two_commands_is_caught():
    text = "# Title\n" + "line\n" * 40 + "make repro and make test\n" + "line\n" * 220
    assert readme_problems("README.md", text) == [
        "README.md: 262 lines, over 250",
        "README.md:1-40: `make repro` is not on the first screen",
        "README.md:1-40: `make test` is not on the first screen",
    ]


def test_a_broken_link_is_caught(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "a.png").write_bytes(b"")
    (tmp_path / "README.md").write_text("# Top\n\n## The blog's gap\n")
    page = tmp_path / "docs" / "page.md"
    text = (
        "![fine](../metrics/a.png) [fine](../README.md#the-blogs-gap) [web](https://dvc.org)\n"
        "![moved](metrics/a.png)\n"
        "[no such heading](../README.md#the-gap) [here](#a-title) [nor here](#no-title)\n"
        "# A title\n"
    )
    assert link_problems("docs/page.md", text, page) == [
        "docs/page.md:2: link 'metrics/a.png': metrics/a.png does not exist",
        "docs/page.md:3: link '../README.md#the-gap': no heading #the-gap in README.md",
        "docs/page.md:3: link '#no-title': no heading #no-title in docs/page.md",
    ]
