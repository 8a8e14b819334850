"""What the Makefile relies on about the test files' names."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def module_marks(path: Path) -> list[str]:
    """The `pytest.mark.X` names of a module's `pytestmark` assignment (one mark or a list of them)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List) else [node.value]
            return [ast.unparse(value).removeprefix("pytest.mark.") for value in values]
    return []


def test_every_test_in_a_file_named_airflow_is_marked_airflow():
    """`make unit` leaves these files out at collection (UNIT_SKIPS): that must drop only tests `-m "not airflow"`
    deselects anyway."""
    files = sorted(TESTS.rglob("*_airflow.py"))
    assert files
    unmarked = [str(path.relative_to(TESTS)) for path in files if "airflow" not in module_marks(path)]
    assert unmarked == []
