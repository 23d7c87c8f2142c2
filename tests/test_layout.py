"""The layout keeps its promises: the import layers hold (and a backward import breaks them),
and docs/design.md lists every module there is and none that is not.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.project import ROOT

PACKAGE = ROOT / "src" / "dispatch"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def modules() -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_the_design_notes_list_every_module_and_no_other() -> None:
    listed = set(
        re.findall(r"^\| `([\w/]+\.py)` \|", (ROOT / "docs" / "design.md").read_text(), re.M)
    )
    assert modules() - listed == set(), "modules missing from docs/design.md's table"
    assert listed - modules() == set(), "docs/design.md lists modules that do not exist"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(
        PACKAGE, tmp_path / "src" / "dispatch", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold_and_a_backward_import_breaks_them(tmp_path: Path) -> None:
    tree = copy_of_the_package(tmp_path)
    kept = lint_imports(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout

    decisions = tree / "src" / "dispatch" / "plan" / "decisions.py"
    source = decisions.read_text()
    decisions.write_text(
        source.replace(
            "\nfrom dispatch.", "\nfrom dispatch.store.core import Store\nfrom dispatch.", 1
        )
    )
    broken = lint_imports(tree)
    assert broken.returncode == 1
    assert "dispatch.plan is not allowed to import dispatch.store" in broken.stdout
    assert "dispatch.plan.decisions -> dispatch.store.core" in broken.stdout


def test_one_output_importing_another_breaks_their_independence(tmp_path: Path) -> None:
    tree = copy_of_the_package(tmp_path)
    x = tree / "src" / "dispatch" / "outputs" / "x.py"
    x.write_text(
        x.read_text().replace(
            "\nfrom dispatch.", "\nfrom dispatch.outputs.smtp import SmtpOutput\nfrom dispatch.", 1
        )
    )
    broken = lint_imports(tree)
    assert broken.returncode == 1
    assert "outputs know nothing of each other BROKEN" in broken.stdout
