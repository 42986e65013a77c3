"""The package's shape, as the README's "Layout" section promises it: public names in each package's `__init__`
(loaded lazily and all resolvable), start-time laziness through that one mechanism instead of imports scattered
inside functions, and modules small enough to read in one sitting."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest
from locations import REPO_ROOT

PACKAGE = REPO_ROOT / "ran_desktop"
LAZY_PACKAGES = sorted(
    ".".join(p.parent.relative_to(REPO_ROOT).parts) for p in PACKAGE.rglob("__init__.pyi")
)

# The only modules that import inside functions, and why.
LOCAL_IMPORTS_ALLOWED = {
    "ran_desktop/__init__.py": "the version is read from the package's metadata on first use (PEP 562), not on import",
    "ran_desktop/app.py": "the entry point loads what the chosen command needs: the self-test, the log file's handler",
    "ran_desktop/selftest.py": "the self-test times each import on its own, so a slow disk shows where",
    "training/datasets/adapters.py": "the spreadsheet readers (xlrd, openpyxl) of one data set's files are optional",
}
LONG_MODULE_LINES = 400


def _local_imports(path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted({
        node.lineno
        for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))
    })


def test_there_are_lazy_packages_to_check():
    assert {"ran_desktop.engine.imaging", "ran_desktop.engine.model", "ran_desktop.engine.records",
            "ran_desktop.engine.screening", "ran_desktop.engine.validation", "ran_desktop.reports",
            "ran_desktop.gui"} <= set(LAZY_PACKAGES)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_of_a_package_resolves(package):
    """EAGER_IMPORT makes lazy_loader import everything a stub names at once: a misspelt name or an import cycle
    between packages fails here rather than on a grader's first click."""
    code = f"import {package} as p\nmissing = [n for n in p.__all__ if getattr(p, n, None) is None]\nprint(missing)"
    env = dict(os.environ, EAGER_IMPORT="1", QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_a_package_stub_names_every_module_of_the_package(package):
    """A module left out of the stub cannot be reached through the package's lazy names."""
    folder = REPO_ROOT.joinpath(*package.split("."))
    stub = ast.parse((folder / "__init__.pyi").read_text(encoding="utf-8"))
    named = {alias.name for node in stub.body if isinstance(node, ast.ImportFrom) and node.module is None
             for alias in node.names}
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    assert modules <= named, f"not in {package}'s __init__.pyi: {sorted(modules - named)}"


def test_importing_one_module_of_a_package_loads_none_of_its_siblings():
    code = ("import sys\nimport ran_desktop.engine.records.review\n"
            "print(sorted(m for m in sys.modules if m.startswith('ran_desktop.engine.records.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(ast.literal_eval(done.stdout.strip()))
    assert "ran_desktop.engine.records.review" in loaded
    assert not loaded & {"ran_desktop.engine.records.storage", "ran_desktop.engine.records.session_export"}


def test_imports_inside_functions_only_where_a_reason_is_given():
    found = {}
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO_ROOT / "training").rglob("*.py")]):
        name = path.relative_to(REPO_ROOT).as_posix()
        if name not in LOCAL_IMPORTS_ALLOWED and (lines := _local_imports(path)):
            found[name] = lines
    assert not found, f"imports inside functions (reach a costly module through its package's lazy names): {found}"


def test_the_check_for_local_imports_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import json\n    return json\n")
    assert _local_imports(module) == [2]


def test_long_modules_say_why_in_their_docstring():
    long = {}
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO_ROOT / "training").rglob("*.py")]):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > LONG_MODULE_LINES:
            docstring = ast.get_docstring(ast.parse(source)) or ""
            if "Long because" not in docstring:
                long[path.relative_to(REPO_ROOT).as_posix()] = source.count("\n")
    assert not long, f"modules over {LONG_MODULE_LINES} lines with no 'Long because' in their docstring: {long}"


SUPPRESSION = re.compile(r"#\s*(noqa|type:\s*ignore)\b(?P<rest>.*)$")
SAYS_WHY = re.compile(r"^(: [A-Z0-9, ]+|\[[a-z-, ]+\])\s*(\(.+\)|#.+)")


def _unexplained(source: str) -> list[int]:
    return [number for number, line in enumerate(source.splitlines(), 1)
            if (found := SUPPRESSION.search(line)) and not SAYS_WHY.match(found["rest"])]


def test_every_suppression_says_why():
    """A `# noqa` or `# type: ignore` carries its reason (in brackets after the code, or a comment after it);
    ruff's RUF100 reports one that no longer suppresses anything."""
    found = {}
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO_ROOT / "training").rglob("*.py"), REPO_ROOT / "main.py"]):
        if lines := _unexplained(path.read_text(encoding="utf-8")):
            found[path.relative_to(REPO_ROOT).as_posix()] = lines
    assert not found, f"suppressions without a reason: {found}"
    assert _unexplained("x = f()  # type: ignore[arg-type]\ny = 1  # noqa: E501 (a URL)\n") == [1]
