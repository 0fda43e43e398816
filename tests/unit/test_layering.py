"""The domain package imports no framework: ``api → workflow``, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"
FORBIDDEN = ("flask", "flask_smorest", "flask_sqlalchemy", "marshmallow", "sqlalchemy", "apscheduler", "api")


@pytest.mark.parametrize("module", sorted(WORKFLOW.rglob("*.py")), ids=lambda path: str(path.relative_to(WORKFLOW)))
def test_the_workflow_package_imports_no_framework(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    offending = [name for name in imported if name.split(".")[0] in FORBIDDEN]
    assert offending == [], f"{module.name} imports {offending}"
