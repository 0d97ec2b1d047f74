"""What `pip install .` gives a user: every library the package imports is one of its own
dependencies, not only a test or benchmark extra (the test suite installs those, so an import
missing from the dependencies passes every other test and breaks `kg serve` on a fresh install)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_normal(re.split(r"[ <>=!~;\[]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> dict[str, set[str]]:
    """Top-level module -> the files of kg/ that import it (at any depth, lazily or not)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "kg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_library_is_a_dependency():
    distributions = packages_distributions()
    declared = _declared()
    missing = {}
    for module, files in _imported_modules().items():
        if module == "kg" or module in sys.stdlib_module_names:
            continue
        owners = {_normal(d) for d in distributions.get(module, [])}
        assert owners, f"{module} (imported by {sorted(files)}) is installed by no distribution"
        if not owners & declared:
            missing[module] = sorted(files)
    assert missing == {}
